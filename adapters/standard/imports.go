// Package standard pulls in agentbridge's built-in backend kinds. Import it for its side
// effect, as the binary does; a program that wants fewer kinds imports them one by one.
package standard

import (
	_ "github.com/agentbridge/agentbridge/adapters/rest"    // kind "rest"
	_ "github.com/agentbridge/agentbridge/adapters/soap"    // kind "soap"
	_ "github.com/agentbridge/agentbridge/adapters/xmlhttp" // kind "xmlhttp"
	_ "github.com/agentbridge/agentbridge/adapters/xmlrpc"  // kind "xmlrpc"
)
