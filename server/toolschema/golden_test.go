package toolschema_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/server/toolschema"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

type golden struct {
	file   string
	md     protoreflect.MessageDescriptor
	output bool
}

// goldens are the schemas kept in testdata: the probe that exercises every mapping rule, and
// every method of the demo's InventoryService.
func goldens() []golden {
	g := []golden{
		{file: "schema_probe.input", md: probe},
		{file: "schema_probe.output", md: probe, output: true},
	}
	methods := demov1.File_agentbridge_demo_v1_inventory_proto.Services().ByName("InventoryService").Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		g = append(g,
			golden{file: "inventory." + string(m.Name()) + ".input", md: m.Input()},
			golden{file: "inventory." + string(m.Name()) + ".output", md: m.Output(), output: true})
	}
	return g
}

func schemaOf(t testing.TB, g golden) map[string]any {
	t.Helper()
	f := toolschema.Input
	if g.output {
		f = toolschema.Output
	}
	s, err := f(g.md, options(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for _, g := range goldens() {
		t.Run(g.file, func(t *testing.T) {
			t.Parallel()
			got, err := json.MarshalIndent(schemaOf(t, g), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", g.file+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the generated schema; run go test ./server/toolschema -update and review the diff", path)
			}
		})
	}
}

// Generating twice gives the same schema: map order and shared $defs do not leak into it.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	for _, g := range goldens() {
		t.Run(g.file, func(t *testing.T) {
			t.Parallel()
			if a, b := mustJSON(t, schemaOf(t, g)), mustJSON(t, schemaOf(t, g)); a != b {
				t.Error("two runs differ")
			}
		})
	}
}
