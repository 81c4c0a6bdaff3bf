package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
)

// TestDemoEveryKindEverySurface starts the demo as make run does and reads one item through
// each kind of legacy interface (REST API, XML gateway, XML-RPC desk) over REST, gRPC and MCP:
// the same answer on every surface, and an unknown item the same NOT_FOUND.
func TestDemoEveryKindEverySurface(t *testing.T) {
	t.Parallel()
	httpAddr, grpcAddr := startDemo(t, true)
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	session, err := mcp.NewClient(&mcp.Implementation{Name: "demo-kinds", Version: "v0"}, nil).Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: "http://" + httpAddr + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = session.Close() })

	rest, xml, desk := demov1.NewStockRestServiceClient(conn), demov1.NewXmlStockServiceClient(conn), demov1.NewStockDeskServiceClient(conn)
	kinds := []struct {
		kind, tool, path string
		grpc             func(ctx context.Context, sku string) (proto.Message, error)
		empty            proto.Message // the response type, for reading REST and MCP
	}{
		{"rest", "StockRestService_GetStockItem", "/v1/rest/items/", func(ctx context.Context, sku string) (proto.Message, error) {
			return rest.GetStockItem(ctx, &demov1.GetStockItemRequest{Sku: sku})
		}, &demov1.GetStockItemResponse{}},
		{"xmlhttp", "XmlStockService_GetXmlStock", "/v1/xml/stock/", func(ctx context.Context, sku string) (proto.Message, error) {
			return xml.GetXmlStock(ctx, &demov1.GetXmlStockRequest{Sku: sku})
		}, &demov1.GetXmlStockResponse{}},
		{"xmlrpc", "StockDeskService_GetDeskItem", "/v1/stockdesk/items/", func(ctx context.Context, sku string) (proto.Message, error) {
			return desk.GetDeskItem(ctx, &demov1.GetDeskItemRequest{Sku: sku})
		}, &demov1.GetDeskItemResponse{}},
	}
	for _, k := range kinds {
		t.Run(k.kind, func(t *testing.T) {
			// An item, the same on the three surfaces.
			viaGRPC, err := k.grpc(t.Context(), "G-200")
			if err != nil {
				t.Fatalf("gRPC: %v", err)
			}
			if !strings.Contains(protojson.Format(viaGRPC), "G-200") {
				t.Errorf("gRPC answered %v", viaGRPC)
			}
			code, body := httpGetStatus(t, "http://"+httpAddr+k.path+"G-200")
			viaREST := k.empty.ProtoReflect().New().Interface()
			if code != http.StatusOK || protojson.Unmarshal(body, viaREST) != nil {
				t.Fatalf("REST: HTTP %d %s", code, body)
			}
			res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: k.tool, Arguments: map[string]any{"sku": "G-200"}})
			if err != nil || res.IsError {
				t.Fatalf("MCP: %v %+v", err, res)
			}
			data, _ := json.Marshal(res.StructuredContent)
			viaMCP := k.empty.ProtoReflect().New().Interface()
			if err := protojson.Unmarshal(data, viaMCP); err != nil {
				t.Fatalf("MCP result %s: %v", data, err)
			}
			if !proto.Equal(viaGRPC, viaREST) || !proto.Equal(viaGRPC, viaMCP) {
				t.Errorf("the surfaces differ:\ngRPC %v\nREST %v\nMCP  %v", viaGRPC, viaREST, viaMCP)
			}

			// An unknown item: NOT_FOUND everywhere.
			if _, err := k.grpc(t.Context(), "A-999"); status.Code(err) != codes.NotFound {
				t.Errorf("gRPC: %v, want NotFound", err)
			}
			if code, body := httpGetStatus(t, "http://"+httpAddr+k.path+"A-999"); code != http.StatusNotFound {
				t.Errorf("REST: HTTP %d %s, want 404", code, body)
			}
			res, err = session.CallTool(t.Context(), &mcp.CallToolParams{Name: k.tool, Arguments: map[string]any{"sku": "A-999"}})
			if err != nil || !res.IsError || !strings.HasPrefix(toolText(res), "NotFound") {
				t.Errorf("MCP: %v, %s; want an error result starting NotFound", err, toolText(res))
			}
		})
	}
}

func httpGetStatus(t *testing.T, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func toolText(res *mcp.CallToolResult) string {
	if res == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
