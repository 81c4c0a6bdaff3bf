package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/status"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/server/store"
)

// TestCSVColumnsThatWouldOverwrite: a column for a message as a whole and one for a field inside
// it, in either order, are refused instead of one cell silently replacing the other.
func TestCSVColumnsThatWouldOverwrite(t *testing.T) {
	t.Parallel()
	item := csvColumn{path: []string{"item"}, raw: true}
	sku := csvColumn{path: []string{"item", "sku"}}
	for _, c := range []struct {
		header []string
		cols   []csvColumn
	}{
		{[]string{"item", "item.sku"}, []csvColumn{item, sku}},
		{[]string{"item.sku", "item"}, []csvColumn{sku, item}},
	} {
		err := checkCSVColumns(c.header, c.cols)
		if err == nil || !strings.Contains(err.Error(), "sets the field item as a whole") {
			t.Errorf("%q: %v", c.header, err)
		}
	}
	if err := checkCSVColumns([]string{"item.sku", "item.name"}, []csvColumn{sku, {path: []string{"item", "name"}}}); err != nil {
		t.Errorf("two fields of one message: %v", err)
	}
}

// FuzzBatchUpload: an NDJSON or CSV upload of any bytes never panics, every input it stores
// names a line within the upload, and one that is not an error is a JSON object.
//
//	go test ./server -run '^$' -fuzz FuzzBatchUpload -fuzztime 10m
func FuzzBatchUpload(f *testing.F) {
	f.Add(false, []byte("{\"sku\":\"A-100\",\"quantity\":1}\n\n{\"sku\":\n[1]\n"))
	f.Add(true, []byte("sku,quantity,customerRef\nA-100,1,PO-1\n\"A-2\"00,x\nB-100\n"))
	f.Add(true, []byte("\ufeffwarehouse.code,sku\nBER-1,A-100\n"))
	f.Add(true, []byte("sku,sku\n1,2\n"))
	md := demov1.File_agentbridge_demo_v1_inventory_proto.Messages().ByName("ReserveItemRequest")
	f.Fuzz(func(t *testing.T, isCSV bool, data []byte) {
		st := store.NewMemory(store.Retention{})
		w := &batchWriter{ctx: t.Context(), st: st, table: "in", max: 1000}
		var err error
		if isCSV {
			err = readCSV(bytes.NewReader(data), md, w)
		} else {
			err = readNDJSON(bytes.NewReader(data), w)
		}
		if err != nil {
			if _, ok := status.FromError(err); !ok {
				t.Fatalf("not a status: %v", err)
			}
			return
		}
		if err := w.flush(); err != nil {
			t.Fatal(err)
		}
		lines := int64(bytes.Count(data, []byte("\n")) + 1)
		kvs, err := st.Scan(t.Context(), "in", "", "", 2000)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs {
			var in batchInput
			if err := json.Unmarshal(kv.Value, &in); err != nil {
				t.Fatal(err)
			}
			if in.Line < 1 || in.Line > lines {
				t.Fatalf("input %s names line %d of %d", kv.Key, in.Line, lines)
			}
			if in.Err == "" && (len(in.JSON) == 0 || in.JSON[0] != '{' || !json.Valid(in.JSON)) {
				t.Fatalf("input %s is not an object: %s", kv.Key, in.JSON)
			}
		}
	})
}
