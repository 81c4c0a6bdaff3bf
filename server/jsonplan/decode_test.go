package jsonplan_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/server/jsonplan"
)

// compareDecode checks the decoder against protojson on doc: the same error, or the same
// message. It also runs the plan alone: where the plan reads doc, protojson must read it too,
// to the same message. It reports whether the plan read doc.
func compareDecode(t *testing.T, opts protojson.UnmarshalOptions, dec *jsonplan.Decoder, md protoreflect.MessageDescriptor, doc []byte) bool {
	t.Helper()
	want := dynamicpb.NewMessage(md)
	wantErr := opts.Unmarshal(doc, want)
	got := dynamicpb.NewMessage(md)
	gotErr := dec.Unmarshal(doc, got)
	if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
		t.Fatalf("%s:\nprotojson err %v\ndecoder   err %v", doc, wantErr, gotErr)
	}
	fast := dynamicpb.NewMessage(md)
	read := dec.Fast(doc, fast)
	if read && wantErr != nil {
		t.Fatalf("%s: the plan read what protojson refuses (%v)", doc, wantErr)
	}
	if wantErr != nil {
		return false
	}
	wire := proto.MarshalOptions{Deterministic: true, AllowPartial: true}
	wb, _ := wire.Marshal(want)
	for _, m := range []proto.Message{got, fast} {
		if m == fast && !read {
			continue
		}
		b, err := wire.Marshal(m)
		if err != nil || !bytes.Equal(b, wb) {
			t.Fatalf("%s:\nprotojson %v\ndecoder   %v", doc, want, m)
		}
	}
	return read
}

// plainOnly clears the fields whose JSON forms the plan leaves to protojson (maps and
// well-known types), in m and the messages it holds, so that most documents are the plan's.
func plainOnly(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap(), fd.Enum() != nil && fd.Enum().FullName() == "google.protobuf.NullValue":
			m.Clear(fd)
		case fd.Message() != nil && len(fd.Message().FullName()) > 16 && fd.Message().FullName()[:16] == "google.protobuf.":
			m.Clear(fd)
		case fd.Message() != nil && fd.IsList():
			for i := range v.List().Len() {
				plainOnly(v.List().Get(i).Message())
			}
		case fd.Message() != nil:
			plainOnly(v.Message())
		}
		return true
	})
}

// documents returns JSON documents of random messages, written with protojson's options at
// random (proto names, enum numbers, zero values, line breaks), with and without the fields
// the plan leaves to protojson.
func documents(r *rand.Rand, md protoreflect.MessageDescriptor, n int) [][]byte {
	var docs [][]byte
	for len(docs) < n {
		m := dynamicpb.NewMessage(md)
		fill(r, m, 3)
		if r.IntN(3) != 0 {
			plainOnly(m)
		}
		opts := protojson.MarshalOptions{UseProtoNames: r.IntN(2) == 0, UseEnumNumbers: r.IntN(2) == 0, EmitUnpopulated: r.IntN(4) == 0, Multiline: r.IntN(3) == 0}
		doc, err := opts.Marshal(m)
		if err != nil {
			continue
		}
		docs = append(docs, doc)
	}
	return docs
}

// mutate changes doc in a few places with the bytes JSON is made of.
func mutate(r *rand.Rand, doc []byte) []byte {
	const alphabet = "{}[]\",:-+.0123456789eEtrufalsn \t\n\\/u_\x00\xff"
	out := bytes.Clone(doc)
	for range 1 + r.IntN(3) {
		if len(out) == 0 {
			break
		}
		i := r.IntN(len(out))
		c := alphabet[r.IntN(len(alphabet))]
		switch r.IntN(3) {
		case 0:
			out[i] = c
		case 1:
			out = append(out[:i], out[i+1:]...)
		default:
			out = append(out[:i], append([]byte{c}, out[i:]...)...)
		}
	}
	return out
}

func TestDecoderMatchesProtojson(t *testing.T) {
	t.Parallel()
	md := allDescriptor(t)
	r := rand.New(rand.NewPCG(5, 6))
	for i, opts := range []protojson.UnmarshalOptions{{}, {DiscardUnknown: true}} {
		dec := jsonplan.NewDecoder(opts)
		read := 0
		docs := documents(r, md, []int{400, 100}[i])
		for _, doc := range docs {
			if compareDecode(t, opts, dec, md, doc) {
				read++
			} else if testing.Verbose() && read < 40 && len(doc) < 400 {
				t.Logf("not read: %s", doc)
			}
			for range 2 {
				compareDecode(t, opts, dec, md, mutate(r, doc))
			}
		}
		// Two thirds of the documents have no map or well-known type; the plan reads those.
		if read < len(docs)/2 {
			t.Fatalf("the plan read %d of %d documents", read, len(docs))
		}
		t.Logf("DiscardUnknown %v: the plan read %d of %d documents", opts.DiscardUnknown, read, len(docs))
	}
}

// TestDecoderCases: spellings at the edge of what the plan reads, each with protojson's answer.
func TestDecoderCases(t *testing.T) {
	t.Parallel()
	md := allDescriptor(t)
	opts := protojson.UnmarshalOptions{}
	dec := jsonplan.NewDecoder(opts)
	mustRead := []string{
		`{}`, ` { } `, `{"b":true,"s":"x","i32":-5,"u64":"18446744073709551615","i64":"-9223372036854775808"}`,
		`{"i32":-0}`, `{"db":-0.0}`, `{"db":1.5e-3,"fl":3.4e38}`, `{"db":0}`, `{"s":"tab\there \"q\" \\ \/ \b\f\n\r"}`,
		`{"s":"ünï ✓"}`, `{"raw":"AQID"}`, `{"raw":"AQI"}`, `{"raw":"-_8"}`, `{"color":"COLOR_RED"}`, `{"color":7}`,
		`{"colors":["COLOR_GREEN",1,-1]}`, `{"child":{"child":{"s":"deep"}},"children":[{},{"i32":1}]}`,
		`{"child":null,"s":null,"ss":null}`, `{"custom_Name":"json name"}`, `{"custom":"proto name"}`,
		`{"pickS":"a","pick_i":null}`, `{"optI64":"0"}`, `{"ss":[],"i64s":["1",2]}`, "{\n  \"b\": false\n}\n",
		`{"s":"\u00e9\u0000\u20AC"}`, `{"db":"NaN","fl":"-Infinity","dbs":["Infinity",1]}`, `{"labels":{},"byI64":{ }}`,
		`{"at":null,"took":null,"any":null}`,
	}
	for _, doc := range mustRead {
		if !compareDecode(t, opts, dec, md, []byte(doc)) {
			t.Errorf("%s: the plan did not read it", doc)
		}
	}
	protojsons := []string{
		``, ` `, `null`, `[]`, `{"i32":1e2}`, `{"i32":1.0}`, `{"i32":" 1"}`, `{"i32":"01"}`, `{"i32":01}`, `{"i32":2147483648}`,
		`{"u32":-0}`, `{"u32":-1}`, `{"fl":1e40}`, `{"db":"1.5"}`, `{"db":.5}`, `{"db":1.}`, `{"db":1e}`,
		`{"s":"\ud834\udd1e"}`, `{"s":"\ud834"}`, `{"s":"\u00g9"}`, `{"nothing":null}`, `{"val":null}`, `{"labels":{"a":"b"}}`, `{"db":"nan"}`, `{"s":"a` + "\x01" + `"}`, `{"s":"` + "\xff" + `"}`, `{"s":1}`, `{"b":"true"}`, `{"b":tru}`, `{"b":truex}`,
		`{"s":"a","s":"b"}`, `{"custom":"a","custom_Name":"b"}`, `{"pickS":"a","pickI":"1"}`, `{"nope":1}`, `{"[x.y]":1}`,
		`{"s":"a",}`, `{"s":"a"} x`, `{"s":"a"}}`, `{"s" "a"}`, `{s:"a"}`, `{"color":"NOPE"}`, `{"color":"7"}`, `{"color":1.5}`,
		`{"raw":"!!"}`, `{"labels":{"a":"b"}}`, `{"at":"2024-01-01T00:00:00Z"}`, `{"children":[null]}`, `{"ss":["a",]}`,
		`{"child":{"s":1}}`, `{"child":[]}`, `{"n\u0061me":1}`,
	}
	for _, doc := range protojsons {
		if compareDecode(t, opts, dec, md, []byte(doc)) {
			t.Errorf("%s: the plan read it, where protojson should", doc)
		}
	}
}

// TestDecoderRequired: a proto2 type with required fields is checked as protojson checks it,
// unless AllowPartial.
func TestDecoderRequired(t *testing.T) {
	t.Parallel()
	c := protocompile.Compiler{Resolver: &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(map[string]string{"req.proto": `
syntax = "proto2";
package req.v1;
message Outer { optional Inner inner = 1; repeated Inner inners = 2; optional string note = 3; }
message Inner { required int32 id = 1; optional string name = 2; }
`})}}
	files, err := c.Compile(context.Background(), "req.proto")
	if err != nil {
		t.Fatal(err)
	}
	md := files[0].Messages().ByName("Outer")
	for _, opts := range []protojson.UnmarshalOptions{{}, {AllowPartial: true}} {
		dec := jsonplan.NewDecoder(opts)
		for _, doc := range []string{`{"note":"n"}`, `{"inner":{"id":1}}`, `{"inner":{"name":"x"}}`, `{"inners":[{"id":1},{"name":"x"}]}`} {
			compareDecode(t, opts, dec, md, []byte(doc))
		}
	}
}

// FuzzDecoderMatchesProtojson: any input gives protojson's answer, and what the plan reads
// alone protojson reads to the same message. Seeds: documents TestDecoderMatchesProtojson makes.
func FuzzDecoderMatchesProtojson(f *testing.F) {
	md := allDescriptor(f)
	for _, doc := range documents(rand.New(rand.NewPCG(7, 8)), md, 40) {
		f.Add(doc)
	}
	opts := protojson.UnmarshalOptions{}
	dec := jsonplan.NewDecoder(opts)
	f.Fuzz(func(t *testing.T, doc []byte) {
		compareDecode(t, opts, dec, md, doc)
	})
}
