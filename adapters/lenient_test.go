package adapters_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/adapters"
)

// TestSkipLog logs each skipped path once and counts every skip.
func TestSkipLog(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	l := adapters.NewSkipLog("skiplog-test", slog.New(slog.NewTextHandler(&out, nil)))
	for _, p := range []string{"R/a", "R/b", "R/a", "R/a"} {
		l.Skipped(p)
	}
	if n := adapters.SkippedCount("skiplog-test"); n != 4 {
		t.Errorf("counted %v skips, want 4", n)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "path=R/a") || !strings.Contains(lines[1], "path=R/b") || !strings.Contains(lines[0], "backend=skiplog-test") {
		t.Errorf("logged:\n%s\nwant one line for R/a, then one for R/b", out.String())
	}
}
