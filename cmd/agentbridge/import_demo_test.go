package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var demoLegacy = regexp.MustCompile(`legacy SOAP 1.1 inventory system: (http://\S+)`)

// TestImportDemoWSDL is the importer's three commands against the demo's legacy system: import
// its WSDL from the ?wsdl URL it serves, serve the result, and call every operation, getting
// the answers the hand-written demo contract gets from the same system.
func TestImportDemoWSDL(t *testing.T) {
	// The demo: the legacy system and the bridge with the hand-written contract.
	stdout, logs := watchAddrs(demoHTTP, demoLegacy), watchAddrs()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "-http-addr", "127.0.0.1:0", "-legacy-addr", "127.0.0.1:0", "-grpc-addr", "off"}, stdout, logs)
	}()
	addrs := stdout.wait(t, done)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
		if t.Failed() {
			t.Logf("demo log:\n%s", logs.String())
		}
	})
	handWritten, legacy := "http://"+addrs[0], addrs[1]

	// 1. agentbridge import wsdl URL -o DIR
	dir := t.TempDir()
	var report bytes.Buffer
	if err := run(ctx, []string{"import", "wsdl", legacy + "?wsdl", "-o", dir, "--read-only", "Get*,List*"}, &report, io.Discard); err != nil {
		t.Fatalf("import: %v", err)
	}
	for _, want := range []string{"InventoryService_GetItem", "InventoryService_ListItems", "InventoryService_ReserveItem", "served as read-only"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("the report does not mention %s:\n%s", want, report.String())
		}
	}

	// 2. agentbridge serve -config DIR/agentbridge.yaml
	serveLogs := watchAddrs(serveHTTP)
	sctx, scancel := context.WithCancel(context.Background())
	sdone := make(chan error, 1)
	go func() {
		sdone <- run(sctx, []string{"serve", "-config", filepath.Join(dir, "agentbridge.yaml"), "-http-addr", "127.0.0.1:0", "-grpc-addr", "off"}, io.Discard, serveLogs)
	}()
	imported := "http://" + serveLogs.wait(t, sdone)[0]
	t.Cleanup(func() {
		scancel()
		if err := <-sdone; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", serveLogs.String())
		}
	})

	// 3. Call every operation on both bridges.
	get := func(base, path string) map[string]any {
		return callJSON(t, http.MethodGet, base+path, "")
	}
	post := func(base, path, body string) map[string]any {
		return callJSON(t, http.MethodPost, base+path, body)
	}

	want := get(handWritten, "/v1/items/A-100")["item"].(map[string]any)
	got := post(imported, "/v1/inventory/get-item", `{"sku": "A-100"}`)["item"].(map[string]any)
	sameItem(t, "GetItem A-100", want, got)

	// A discontinued item: an xsd:date with its zone, and a nil supplier note (xsi:nil), which
	// is not the empty note G-300 has.
	for _, sku := range []string{"A-400", "G-300"} {
		want := get(handWritten, "/v1/items/"+sku)["item"].(map[string]any)
		got := post(imported, "/v1/inventory/get-item", `{"sku": "`+sku+`"}`)["item"].(map[string]any)
		sameItem(t, "GetItem "+sku, want, got)
		_, wantNil := want["supplierNoteNil"]
		_, gotNil := got["supplierNoteNil"]
		if wantNil != gotNil || gotNil != (sku == "A-400") {
			t.Errorf("GetItem %s: supplierNoteNil present: hand-written %v, imported %v", sku, wantNil, gotNil)
		}
	}
	if got := post(imported, "/v1/inventory/get-item", `{"sku": "A-400"}`)["item"].(map[string]any)["discontinuedOn"]; got != "2026-09-15+02:00" {
		t.Errorf("A-400 discontinuedOn %v, want the xsd:date with its zone", got)
	}

	wantList := get(handWritten, "/v1/items?category=garden&maxResults=2")["items"].([]any)
	gotList := post(imported, "/v1/inventory/list-items", `{"category": "garden", "maxResults": 2}`)["items"].([]any)
	if len(wantList) != len(gotList) || len(gotList) == 0 {
		t.Fatalf("ListItems garden: hand-written %d items, imported %d", len(wantList), len(gotList))
	}
	for i := range wantList {
		sameItem(t, "ListItems item", wantList[i].(map[string]any), gotList[i].(map[string]any))
	}

	first := post(handWritten, "/v1/items/G-100:reserve", `{"quantity": 2, "customerRef": "PO-1"}`)
	second := post(imported, "/v1/inventory/reserve-item", `{"sku": "G-100", "quantity": 2, "customerRef": "PO-2"}`)
	if r1, r2 := first["remaining"].(float64), second["remaining"].(float64); r2 != r1-2 {
		t.Errorf("ReserveItem: hand-written left %v, the imported call after it %v; want %v", r1, r2, r1-2)
	}
	if second["reservationId"] == "" || second["reservationId"] == first["reservationId"] {
		t.Errorf("ReserveItem: reservation ids %v and %v", first["reservationId"], second["reservationId"])
	}

	// An undeclared fault: the same status on both.
	wantErr := get(handWritten, "/v1/items/Z-999")
	gotErr := post(imported, "/v1/inventory/get-item", `{"sku": "Z-999"}`)
	if wantErr["code"] != gotErr["code"] || gotErr["code"] == nil {
		t.Errorf("GetItem Z-999: hand-written code %v, imported %v (%v)", wantErr["code"], gotErr["code"], gotErr)
	}
	// A declared fault (wsdl:fault UnknownItem): the hand-written contract has no rule for it
	// and answers INVALID_ARGUMENT as for any Client fault; the import wrote one from the WSDL,
	// so the agent learns the item does not exist.
	wantErr = get(handWritten, "/v1/items/Q-404")
	gotErr = post(imported, "/v1/inventory/get-item", `{"sku": "Q-404"}`)
	if wantErr["code"] != float64(3) || gotErr["code"] != float64(5) || !strings.Contains(jsonString(gotErr), `"reason":"UNKNOWN_ITEM"`) {
		t.Errorf("GetItem Q-404: hand-written %v, imported %v; want INVALID_ARGUMENT and NOT_FOUND with reason UNKNOWN_ITEM", wantErr, gotErr)
	}
}

// callJSON calls a REST route and decodes the JSON reply, whatever its status.
func callJSON(t *testing.T, method, url, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, data)
	}
	return out
}

// sameItem compares an item from the hand-written contract with one from the imported one:
// the same values, where the hand-written proto names or types them differently (tags as
// tag, updatedAt as a Timestamp).
func sameItem(t *testing.T, what string, want, got map[string]any) {
	t.Helper()
	for _, k := range []string{"sku", "name", "category", "unitPrice", "quantityOnHand", "status", "warehouse", "discontinuedOn", "supplierNote"} {
		if !jsonEqual(want[k], got[k]) {
			t.Errorf("%s: %s: hand-written %v, imported %v", what, k, want[k], got[k])
		}
	}
	if !jsonEqual(want["tags"], got["tag"]) {
		t.Errorf("%s: tags: hand-written %v, imported %v", what, want["tags"], got["tag"])
	}
	wt, err1 := time.Parse(time.RFC3339Nano, want["updatedAt"].(string))
	gt, err2 := time.Parse(time.RFC3339Nano, got["updatedAt"].(string))
	if err1 != nil || err2 != nil || !wt.Equal(gt) {
		t.Errorf("%s: updatedAt: hand-written %v, imported %v", what, want["updatedAt"], got["updatedAt"])
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
