package server

import (
	"context"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/status"
)

// lineWriter writes the audit line of a call without log/slog: the same JSON line slog's JSON
// handler writes for the same attributes (key order, time format, string escaping), at a fifth
// of the cost, for the common line with no headers or bodies recorded. Lines are written
// whole, one Write each, one at a time, as the handler writes them.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// writeLine is write's fast path: the attributes write gives slog, in its order.
func (a *auditor) writeLine(ctx context.Context, g *generation, procedure, id string, start time.Time, req, resp any, err error) {
	bp := lineBuffers.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"time":"`...)
	b = time.Now().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"call"`...)
	surface := SurfaceFromContext(ctx)
	b = appendLineString(b, "request_id", id)
	b = appendLineString(b, "principal", a.principal(ctx))
	b = appendLineString(b, "surface", string(surface))
	b = appendLineString(b, "method", procedure)
	m := g.methods[procedure]
	if surface == SurfaceMCP {
		b = appendLineString(b, "tool", toolName(g, m))
	}
	b = appendLineString(b, "backend", a.backend(m))
	if tid := traceID(ctx); tid != "" {
		b = appendLineString(b, "trace_id", tid)
	}
	st, _ := status.FromError(err)
	b = appendLineString(b, "code", st.Code().String())
	if err != nil {
		if r := reasonOf(st); r != "" {
			b = appendLineString(b, "reason", r)
		}
	}
	b = appendLineInt(b, "latency_us", time.Since(start).Microseconds())
	b = appendLineInt(b, "request_bytes", int64(g.sizeOf(req)))
	b = appendLineInt(b, "response_bytes", int64(g.sizeOf(resp)))
	b = append(b, "}\n"...)
	a.line.mu.Lock()
	_, _ = a.line.w.Write(b)
	a.line.mu.Unlock()
	*bp = b
	if cap(b) <= 4<<10 {
		lineBuffers.Put(bp)
	}
}

func appendLineString(b []byte, key, value string) []byte {
	b = append(b, ',', '"')
	b = appendSlogString(b, key)
	b = append(b, '"', ':', '"')
	b = appendSlogString(b, value)
	return append(b, '"')
}

func appendLineInt(b []byte, key string, n int64) []byte {
	b = append(b, ',', '"')
	b = appendSlogString(b, key)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, n, 10)
}

// appendSlogString escapes s as slog's JSON handler does: '"', '\\' and control characters
// (\n, \r, \t by name, the rest as \u00XX), invalid UTF-8 as \ufffd, and U+2028 and U+2029;
// '<', '>' and '&' are written as they are.
func appendSlogString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}
