package server

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"testing"
	"time"
)

// The audit line written without slog is the line slog's JSON handler writes for the same
// attributes, byte for byte but for the time (the two are made a moment apart).
func TestAuditLineMatchesSlog(t *testing.T) {
	t.Parallel()
	texts := []string{"", "plain", `quote" back\slash`, "ctl\x00\x01\x1f\x7f", "tab\tnl\nret\r", "<html>&amp;", "ünïcödé ✓ 𝄞", "\u2028\u2029", "bad\xffutf8", "\xc3"}
	times := regexp.MustCompile(`"time":"[^"]*"`)
	for _, s := range texts {
		var fast, slow bytes.Buffer
		b := appendLineString(nil, "request_id", s)
		b = appendLineString(b, "k\n"+s, s)
		b = appendLineInt(b, "latency_us", -42)
		fast.WriteString(`{"time":"x","level":"INFO","msg":"call"` + string(b) + "}\n")
		slog.New(slog.NewJSONHandler(&slow, nil)).LogAttrs(context.Background(), slog.LevelInfo, "call",
			slog.String("request_id", s), slog.String("k\n"+s, s), slog.Int64("latency_us", -42))
		if got, want := times.ReplaceAll(fast.Bytes(), []byte(`"time":"x"`)), times.ReplaceAll(slow.Bytes(), []byte(`"time":"x"`)); !bytes.Equal(got, want) {
			t.Errorf("%q:\nline %s\nslog %s", s, got, want)
		}
	}
	// The time is slog's format.
	var slow bytes.Buffer
	slog.New(slog.NewJSONHandler(&slow, nil)).Info("call")
	want := times.Find(slow.Bytes())
	got := append([]byte(`"time":"`), time.Now().AppendFormat(nil, time.RFC3339Nano)...)
	if len(want) == 0 || !regexp.MustCompile(`^"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"$`).Match(append(got, '"')) {
		t.Errorf("time %s, slog's %s", got, want)
	}
}
