package wsdl_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentbridge/agentbridge/adapters/wsdl"
)

const ec2 = "gowsdl-aws-ec2-2013-10-15.wsdl"

// BenchmarkImportEC2 imports EC2's WSDL (340 KB, 151 operations, 625 complex types): read,
// map, print and compile the proto. Baseline: BenchmarkTokenizeEC2, one encoding/xml pass over
// the same file, the least any importer must do.
func BenchmarkImportEC2(b *testing.B) {
	src := filepath.Join(corpus, ec2)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wsdl.Import(context.Background(), src, wsdl.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenizeEC2(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(corpus, ec2))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		d := xml.NewDecoder(bytes.NewReader(data))
		for {
			_, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
