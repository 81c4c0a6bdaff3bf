package wsdl_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters/wsdl"
)

var update = flag.Bool("update", false, "rewrite the corpus table in docs/importing-wsdl.md")

const guide = "../../docs/importing-wsdl.md"

var tableSection = regexp.MustCompile(`(?s)<!-- corpus-table -->\n.*?<!-- /corpus-table -->`)

// TestCorpusTable keeps the corpus table of docs/importing-wsdl.md true: every column but the
// import time must match what importing gives now (go test -run CorpusTable -update rewrites
// it, times included).
func TestCorpusTable(t *testing.T) {
	var rows []string
	rows = append(rows, "| WSDL | binding imported | tools | messages | enums | inexact mappings | skipped | import time |", "|---|---|---:|---:|---:|---:|---:|---:|")
	for _, name := range corpusMains(t) {
		start := time.Now()
		res, err := wsdl.Import(context.Background(), filepath.Join(corpus, name), wsdl.Options{})
		elapsed := time.Since(start)
		if err != nil {
			first := strings.SplitN(err.Error(), "\n", 2)[0]
			first = strings.ReplaceAll(first, corpusAbs(t)+"/", "")
			first = strings.ReplaceAll(first, corpus+"/", "")
			rows = append(rows, fmt.Sprintf("| `%s` | not imported: %s | 0 | 0 | 0 | 0 | 0 | |", name, strings.ReplaceAll(first, "|", "\\|")))
			continue
		}
		p := string(res.Proto)
		binding := strings.Join(res.Report.Bindings, "; ")
		if i := strings.Index(binding, "binding "); i >= 0 {
			binding = binding[i+len("binding "):]
		}
		if i := strings.Index(binding, ";"); i >= 0 {
			binding = binding[:i]
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %d | %d | %d | %d | %d | %s |", name, binding, strings.Count(p, "\n  rpc "),
			strings.Count(p, "\nmessage "), strings.Count(p, "\nenum "), len(res.Report.Inexact), len(res.Report.Skipped), elapsed.Round(time.Millisecond)))
	}
	table := "<!-- corpus-table -->\n" + strings.Join(rows, "\n") + "\n<!-- /corpus-table -->"
	doc, err := os.ReadFile(guide)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(guide, tableSection.ReplaceAll(doc, []byte(table)), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have := tableSection.FindString(string(doc))
	if withoutTimes(have) != withoutTimes(table) {
		t.Errorf("the corpus table in %s is stale; run go test ./adapters/wsdl -run CorpusTable -update\nwant:\n%s\nhave:\n%s", guide, table, have)
	}
}

var lastColumn = regexp.MustCompile(`(?m)\| [0-9.]*(ms|s|µs)? \|$`)

func withoutTimes(s string) string { return lastColumn.ReplaceAllString(s, "| |") }

func corpusAbs(t *testing.T) string {
	abs, err := filepath.Abs(corpus)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
