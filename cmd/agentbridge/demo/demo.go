// Package demo is agentbridge's embedded demo: the Acme warehouse's legacy system (Legacy), with
// four interfaces on one stock (a SOAP 1.1 inventory service, a REST API, an XML gateway and an
// XML-RPC stock desk), and the config that puts each behind the bridge as an agent-facing
// service, bound by proto options alone.
package demo

import (
	"fmt"
	"strings"

	"github.com/agentbridge/agentbridge/adapters"
	_ "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1" // links the service's descriptors and message types
	"github.com/agentbridge/agentbridge/server"
)

// ServiceName is the demo's main agent-facing service, bound to the SOAP inventory service.
const ServiceName = "agentbridge.demo.v1.InventoryService"

// The demo's other services, one per kind of legacy interface.
const (
	RestServiceName    = "agentbridge.demo.v1.StockRestService" // the REST API (kind rest)
	XMLServiceName     = "agentbridge.demo.v1.XmlStockService"  // the XML gateway (kind xmlhttp)
	XMLRPCServiceName  = "agentbridge.demo.v1.StockDeskService" // the XML-RPC desk (kind xmlrpc)
	soapEndpointSuffix = "/inventory"
)

// Config serves the demo's services with their backends on the Legacy system whose SOAP
// service is at endpoint (its URL ending in /inventory; the other interfaces are beside it).
func Config(endpoint string) *server.Config {
	base := strings.TrimSuffix(endpoint, soapEndpointSuffix)
	return &server.Config{
		Services: []string{ServiceName, RestServiceName, XMLServiceName, XMLRPCServiceName},
		Backends: map[string]adapters.Backend{
			"inventory":          {Kind: "soap", Endpoint: endpoint, WSDL: endpoint + "?wsdl"},
			"warehouse-rest":     {Kind: "rest", Endpoint: base},
			"xmlhttp-demo":       {Kind: "xmlhttp", Endpoint: base + "/xml"},
			StockDeskBackendName: StockDeskBackend(base + "/RPC2"),
		},
		// The warehouse pushes stock changes and lapsed reservations (Legacy.NotifyTo), signed
		// with the secret in EventSecretEnv. Events and batches are kept in memory, as the
		// warehouse's stock is.
		Events: EventSources(EventSecretEnv),
		// Agents hand over many calls at once through BatchService.
		Batches: &server.BatchesConfig{MaxItems: 10000},
		Store:   server.StoreConfig{Engine: server.StoreMemory},
	}
}

// InventoryConfig serves the SOAP inventory service alone, its backend at endpoint: the
// smallest demo, which tests of one backend's behaviour use.
func InventoryConfig(endpoint string) *server.Config {
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
	fmt.Fprintf(&b, "# The same stock through the warehouse's other interfaces (REST API, XML gateway, XML-RPC desk)\n")
	fmt.Fprintf(&b, "curl -s http://%s/v1/rest/items/A-100\n", httpAddr)
	fmt.Fprintf(&b, "curl -s http://%s/v1/xml/stock/G-200/location\n", httpAddr)
	fmt.Fprintf(&b, "curl -s -X POST http://%s/v1/stockdesk/items/A-200:reserve -H 'Content-Type: application/json' -d '{\"quantity\": 1}'\n", httpAddr)
	fmt.Fprintf(&b, "# OpenAPI document\n")
	fmt.Fprintf(&b, "curl -s http://%s/openapi.json\n", httpAddr)
	return b.String()
}
