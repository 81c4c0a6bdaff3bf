// Package demo is agentbridge's embedded demo: the Acme warehouse's legacy SOAP 1.1 inventory
// system (Legacy), and the config that puts it behind the bridge as
// agentbridge.demo.v1.InventoryService, bound by proto options alone.
package demo

import (
	"fmt"
	"strings"

	"github.com/agentbridge/agentbridge/adapters"
	_ "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1" // links the service's descriptors and message types
	"github.com/agentbridge/agentbridge/server"
)

// ServiceName is the agent-facing service of the demo.
const ServiceName = "agentbridge.demo.v1.InventoryService"

// Config serves the demo service with its backend at endpoint (the Legacy system's URL).
func Config(endpoint string) *server.Config {
	return &server.Config{
		Services: []string{ServiceName},
		Backends: map[string]adapters.Backend{
			"inventory": {Kind: "soap", Endpoint: endpoint, WSDL: endpoint + "?wsdl"},
		},
	}
}

// Calls returns the copy-paste calls the README shows, for the given listener addresses.
func Calls(httpAddr, grpcAddr string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# REST/JSON (grpc-gateway)\n")
	fmt.Fprintf(&b, "curl -s http://%s/v1/items/A-100\n", httpAddr)
	fmt.Fprintf(&b, "curl -s 'http://%s/v1/items?category=garden&maxResults=2'\n", httpAddr)
	fmt.Fprintf(&b, "curl -s -X POST http://%s/v1/items/G-100:reserve -H 'Content-Type: application/json' -d '{\"quantity\": 2, \"customerRef\": \"PO-1001\"}'\n", httpAddr)
	fmt.Fprintf(&b, "curl -s http://%s/v1/items/A-400\n", httpAddr) // a date kept as written, and a nil note
	fmt.Fprintf(&b, "# gRPC (reflection is on)\n")
	if grpcAddr != "" {
		fmt.Fprintf(&b, "bin/grpcurl -plaintext -d '{\"sku\": \"G-100\"}' %s %s/GetItem\n", grpcAddr, ServiceName)
	}
	fmt.Fprintf(&b, "# Connect protocol\n")
	fmt.Fprintf(&b, "curl -s -H 'Content-Type: application/json' -d '{\"sku\": \"A-100\"}' http://%s/%s/GetItem\n", httpAddr, ServiceName)
	fmt.Fprintf(&b, "# OpenAPI document\n")
	fmt.Fprintf(&b, "curl -s http://%s/openapi.json\n", httpAddr)
	return b.String()
}
