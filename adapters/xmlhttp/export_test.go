package xmlhttp

import (
	"strings"
	"testing"

	"github.com/clbanning/mxj/v2"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// ReadTreeForTest reads a document as the kind reads one for paths.
func ReadTreeForTest(t *testing.T, doc string) mxj.Map {
	t.Helper()
	d := xmlcodec.NewDecoder(strings.NewReader(doc))
	root, err := xmlcodec.OpenRoot(d)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := readTree(d, root)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
