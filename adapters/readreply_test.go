package adapters

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadReply: a body is read whole and bounded whatever its declared length says, the
// truth or not, and a declared length sizes the buffer once.
func TestReadReply(t *testing.T) {
	body := strings.Repeat("0123456789", 100) // 1,000 bytes
	for _, c := range []struct {
		name            string
		declared, limit int64
		want            int // bytes read: limit+1 means "over the bound"
	}{
		{"declared exactly", 1000, 4096, 1000},
		{"unknown length", -1, 4096, 1000},
		{"declared shorter than sent", 10, 4096, 1000},
		{"declared longer than sent", 3000, 4096, 1000},
		{"declared zero", 0, 4096, 1000},
		{"unknown, over the bound", -1, 500, 501},
		{"declared under the bound, sent over it", 100, 500, 501},
		{"exactly the bound", 1000, 1000, 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(body), iotest.OneByteReader(strings.NewReader(body)), iotest.HalfReader(strings.NewReader(body))} {
				got, err := readReply(r, c.declared, c.limit)
				if err != nil || len(got) != c.want || !bytes.Equal(got, []byte(body[:c.want])) {
					t.Fatalf("read %d bytes, %v; want %d", len(got), err, c.want)
				}
			}
		})
	}
	got, err := readReply(strings.NewReader(""), 0, 10)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty body: %q, %v", got, err)
	}
	broken := errors.New("connection reset")
	if _, err := readReply(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(broken)), 10, 100); !errors.Is(err, broken) {
		t.Fatalf("failed read: %v, want %v", err, broken)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = readReply(strings.NewReader(body), 1000, 4096) }); n > 2 {
		t.Fatalf("a declared length: %v allocations, want the buffer alone", n)
	}
}
