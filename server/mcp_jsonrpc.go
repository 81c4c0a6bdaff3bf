package server

import (
	"encoding/json"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// codeTooManySessions is the JSON-RPC error code of a refused initialize: -32000 to -32099 are
// left to implementations.
const codeTooManySessions = -32000

// MCP protocol names the HTTP guard and the line transport look at.
const (
	mcpSessionHeader   = "Mcp-Session-Id"
	mcpVersionHeader   = "Mcp-Protocol-Version"
	mcpMetaVersionKey  = "io.modelcontextprotocol/protocolVersion"
	mcpNewProtocol     = "2026-07-28" // sessionless: no initialize, the version on every request
	methodInitialize   = "initialize"
	methodPing         = "ping"
	methodDiscover     = "server/discover"
	methodCancelled    = "notifications/cancelled"
	batchRefusal       = "JSON-RPC batches are not accepted: send one message per request"
	notInitializedHint = "send initialize first"
)

// rpcError encodes a JSON-RPC error response. The SDK's encoder leaves out a null id, which
// JSON-RPC requires when the request's id could not be read (a parse error, a batch).
func rpcError(id jsonrpc.ID, code int64, message string) []byte {
	data, _ := json.Marshal(struct {
		JSONRPC string         `json:"jsonrpc"`
		ID      any            `json:"id"`
		Error   *jsonrpc.Error `json:"error"`
	}{"2.0", id.Raw(), &jsonrpc.Error{Code: code, Message: message}})
	return data
}
