package xmlcodec

import (
	"errors"
	"io"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// SkipAll reads every token of s as a decode does, without boxing them as Token does: the
// scanner's floor in the benchmarks.
func SkipAll(s *Scanner) error {
	for {
		if _, err := s.next(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// DirectFields names the fields of md that decoding writes into its generated Go struct
// directly (see gostruct.go), attributes and text included.
func DirectFields(md protoreflect.MessageDescriptor) ([]string, error) {
	p, err := For(md)
	if err != nil {
		return nil, err
	}
	var names []string
	planned := append(p.attrs[:len(p.attrs):len(p.attrs)], p.fields...)
	if p.text != nil {
		planned = append(planned, p.text)
	}
	for _, fp := range planned {
		if fp.gf.op != goNone {
			names = append(names, string(fp.fd.Name()))
		}
	}
	return names, nil
}
