package server

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadBodyAsReadAll: readBody returns what io.ReadAll returns, whatever size the request
// declared (exact, too small, too large, unknown, over the preallocation bound) and however
// the reader hands out its bytes, errors included.
func TestReadBodyAsReadAll(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	for _, body := range []string{"", "{}", `{"a":2,"b":3}`, strings.Repeat("x", 1000), strings.Repeat("y", 70<<10)} {
		n := int64(len(body))
		for _, size := range []int64{-1, 0, n, n - 1, n + 1, n * 2, 64 << 10, 64<<10 + 1} {
			for name, wrap := range map[string]func(io.Reader) io.Reader{
				"plain":    func(r io.Reader) io.Reader { return r },
				"one byte": iotest.OneByteReader,
				"half":     iotest.HalfReader,
				"data+EOF": iotest.DataErrReader,
				"failing":  func(r io.Reader) io.Reader { return io.MultiReader(r, iotest.ErrReader(boom)) },
			} {
				want, wantErr := io.ReadAll(wrap(strings.NewReader(body)))
				got, err := readBody(wrap(strings.NewReader(body)), size)
				if !bytes.Equal(got, want) || !errors.Is(err, wantErr) {
					t.Fatalf("%d bytes, size %d, %s: got %d bytes, %v; io.ReadAll %d bytes, %v", len(body), size, name, len(got), err, len(want), wantErr)
				}
			}
		}
	}
}
