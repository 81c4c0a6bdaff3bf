package server

import (
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestOperationsDocListsEveryMetric: docs/operations.md names every agentbridge_* metric the
// server exports, and no metric the server does not export.
func TestOperationsDocListsEveryMetric(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(nil, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *prometheus.Desc, 100)
	go func() {
		s.metrics.registry.Describe(ch)
		close(ch)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	exported := map[string]bool{}
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil && strings.HasPrefix(m[1], "agentbridge_") {
			exported[m[1]] = true
		}
	}
	if len(exported) < 10 {
		t.Fatalf("only %d metrics found: %v", len(exported), exported)
	}
	for name := range exported {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/operations.md does not describe %s", name)
		}
	}
	for _, m := range regexp.MustCompile("`(agentbridge_[a-z_]+)`").FindAllStringSubmatch(string(doc), -1) {
		if !exported[m[1]] {
			t.Errorf("docs/operations.md describes %s, which the server does not export", m[1])
		}
	}
}
