package server

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/server/toolschema"
)

// TestMergeTypedAnyOfSameVerdicts checks that the schema arguments are checked against
// (mergeTypedAnyOf) accepts exactly what the tool's schema accepts: for the input schema of
// every message in agentbridge's demo and test protos, random arguments built from values of
// every JSON type (numbers in and out of every integer range, numeric and other strings,
// nested objects and arrays) get the same verdict from both.
func TestMergeTypedAnyOfSameVerdicts(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	merged, schemas, valid, checked := 0, 0, 0, 0
	forInputSchemas(func(md protoreflect.MessageDescriptor, in map[string]any) {
		schemas++
		orig := mustResolve(t, in)
		check := mustResolve(t, mergeTypedAnyOf(in))
		origJSON, _ := json.Marshal(in)
		checkJSON, _ := json.Marshal(mergeTypedAnyOf(in))
		if string(origJSON) != string(checkJSON) {
			merged++
		}
		for range 200 {
			data, instance := randomArgs(t, rng, in)
			errOrig, errCheck := orig.Validate(instance), check.Validate(instance)
			checked++
			if errOrig == nil {
				valid++
			}
			if (errOrig == nil) != (errCheck == nil) {
				t.Fatalf("%s: %s: the tool's schema says %v, the merged one %v", md.FullName(), data, errOrig, errCheck)
			}
		}
	})
	if schemas == 0 || merged == 0 || valid < checked/10 || valid > checked*9/10 {
		t.Fatalf("%d schemas, %d with an anyOf merged, %d of %d arguments valid: the test checks too little", schemas, merged, valid, checked)
	}
	t.Logf("%d input schemas, %d with anyOfs merged; %d of %d arguments valid", schemas, merged, valid, checked)
}

// forInputSchemas calls f with the input schema of every message in agentbridge's demo and
// test protos that a tool can take.
func forInputSchemas(f func(md protoreflect.MessageDescriptor, in map[string]any)) {
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "agentbridge.") {
			return true
		}
		msgs := fd.Messages()
		for i := range msgs.Len() {
			if in, err := toolschema.Input(msgs.Get(i), toolschema.Options{}); err == nil {
				f(msgs.Get(i), in)
			}
		}
		return true
	})
}

// randomArgs makes random arguments for a tool with input schema in: half the time one of its
// properties (most such arguments are valid, so acceptance is checked too), else each property
// with a chance of 2 in 3, and now and then a property it does not have. It returns them as
// JSON and decoded from it, as the tool handler checks them.
func randomArgs(t *testing.T, rng *rand.Rand, in map[string]any) ([]byte, any) {
	t.Helper()
	props, _ := in["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	slices.Sort(names) // the same arguments from the same seed
	args := map[string]any{}
	if len(names) > 0 && rng.IntN(2) == 0 {
		args[names[rng.IntN(len(names))]] = randomValue(rng, 2)
	} else {
		for _, name := range names {
			if rng.IntN(3) > 0 {
				args[name] = randomValue(rng, 2)
			}
		}
	}
	if rng.IntN(20) == 0 {
		args["notAField"] = 1
	}
	data, _ := json.Marshal(args)
	var instance any
	if err := json.Unmarshal(data, &instance); err != nil {
		t.Fatal(err)
	}
	return data, instance
}

func mustResolve(t *testing.T, schema any) *jsonschema.Resolved {
	t.Helper()
	data, err := json.Marshal(schema)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := resolveSchema(data)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// randomValue is a JSON value of any type, leaning to the edges of protobuf's number ranges
// and to strings that spell numbers.
func randomValue(rng *rand.Rand, depth int) any {
	edges := []float64{0, 1, -1, 2147483647, 2147483648, -2147483648, -2147483649, 4294967295,
		4294967296, 9007199254740991, 1e19, -1e19, 1.5, -0.5, 3.4028234663852886e38, 1e39}
	strs := []string{"", "0", "-0", "12", "-12", "2147483647", "2147483648", "-2147483649",
		"4294967295", "9223372036854775807", "9223372036854775808", "18446744073709551615",
		"1.5", "1e3", "NaN", "Infinity", "-Infinity", "abc", "A-100", "2026-11-30T12:00:00Z",
		"1.5s", "ITEM_STATUS_IN_STOCK", "foo.bar", "AAEC", "x y", "01", " 1"}
	switch rng.IntN(8) {
	case 0:
		return edges[rng.IntN(len(edges))]
	case 1:
		return float64(rng.IntN(200) - 100)
	case 2, 3:
		return strs[rng.IntN(len(strs))]
	case 4:
		return rng.IntN(2) == 0
	case 5:
		return nil
	case 6:
		if depth == 0 {
			return "leaf"
		}
		n := rng.IntN(3)
		out := make([]any, n)
		for i := range out {
			out[i] = randomValue(rng, depth-1)
		}
		return out
	default:
		if depth == 0 {
			return 7.0
		}
		return map[string]any{"value": randomValue(rng, depth-1), "seconds": strs[rng.IntN(len(strs))]}
	}
}

// TestQuickSchemaNeverLaxer: the quick check never calls valid what jsonschema-go refuses, on
// random arguments to the input schemas (as the tool handler checks them: typed anyOfs merged)
// of every message of the demo and test protos; and it does answer for the usual tools, so the
// comparison is not empty.
func TestQuickSchemaNeverLaxer(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	schemas, compiled, quickValid, checked := 0, 0, 0, 0
	forInputSchemas(func(md protoreflect.MessageDescriptor, in map[string]any) {
		schemas++
		checkJSON, _ := json.Marshal(mergeTypedAnyOf(in))
		var decoded any
		if err := json.Unmarshal(checkJSON, &decoded); err != nil {
			t.Fatal(err)
		}
		quick := compileQuick(decoded)
		if quick == nil {
			return
		}
		compiled++
		resolved := mustResolve(t, mergeTypedAnyOf(in))
		for range 300 {
			data, instance := randomArgs(t, rng, in)
			checked++
			if !quick.valid(instance) {
				continue
			}
			quickValid++
			if err := resolved.Validate(instance); err != nil {
				t.Fatalf("%s: %s: the quick check says valid, jsonschema-go %v", md.FullName(), data, err)
			}
		}
	})
	t.Logf("%d input schemas, %d compiled; %d of %d argument sets called valid by the quick check", schemas, compiled, quickValid, checked)
	if compiled < schemas/3 || quickValid < checked/20 {
		t.Fatalf("the quick check covers too little to be compared: %d of %d schemas, %d of %d arguments", compiled, schemas, quickValid, checked)
	}
	for _, m := range []proto.Message{&testingv1.AddRequest{}, &demov1.GetItemRequest{}, &demov1.ReserveItemRequest{}} {
		in, err := toolschema.Input(m.ProtoReflect().Descriptor(), toolschema.Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkJSON, _ := json.Marshal(mergeTypedAnyOf(in))
		var decoded any
		_ = json.Unmarshal(checkJSON, &decoded)
		if compileQuick(decoded) == nil {
			t.Errorf("%s: the quick check does not compile its input schema", m.ProtoReflect().Descriptor().FullName())
		}
	}
}

// TestQuickSchemaKeywords: on schemas of one keyword each, the quick check gives jsonschema-go's
// verdict on values at and around every bound, of every JSON type; keywords it does not handle
// compile to nil.
func TestQuickSchemaKeywords(t *testing.T) {
	schemas := []string{
		`{"type":"integer"}`, `{"type":"number"}`, `{"type":["integer","string"]}`, `{"type":"string"}`,
		`{"type":"boolean"}`, `{"type":"null"}`, `{"type":"array"}`, `{"type":"object"}`,
		`{"minimum":-2147483648,"maximum":2147483647}`, `{"exclusiveMinimum":0}`, `{"exclusiveMaximum":1.5}`,
		`{"minLength":2,"maxLength":3}`, `{"pattern":"^-?[0-9]+$"}`, `{"pattern":"é"}`,
		`{"items":{"type":"integer","minimum":0}}`,
		`{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}`,
		`{"properties":{"a":{"type":"string"}}}`, `{"description":"d","format":"date-time","title":"t"}`,
	}
	values := []string{`null`, `true`, `false`, `0`, `-0`, `1`, `-1`, `1.5`, `1.4999999999999998`, `2.0`,
		`2147483647`, `2147483648`, `-2147483648`, `-2147483649`, `1e300`, `""`, `"a"`, `"ab"`, `"abc"`,
		`"abcd"`, `"éé"`, `"ééé"`, `"12"`, `"-12"`, `"1.5"`, `[]`, `[0]`, `[-1]`, `[1.5]`, `["x"]`, `{}`,
		`{"a":1}`, `{"a":"1"}`, `{"a":1,"b":2}`, `{"b":2}`, `{"a":1.5}`}
	for _, sj := range schemas {
		var decoded any
		if err := json.Unmarshal([]byte(sj), &decoded); err != nil {
			t.Fatal(err)
		}
		quick := compileQuick(decoded)
		if quick == nil {
			t.Fatalf("%s does not compile", sj)
		}
		var js jsonschema.Schema
		if err := json.Unmarshal([]byte(sj), &js); err != nil {
			t.Fatal(err)
		}
		resolved, err := js.Resolve(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, vj := range values {
			var v any
			if err := json.Unmarshal([]byte(vj), &v); err != nil {
				t.Fatal(err)
			}
			if got, want := quick.valid(v), resolved.Validate(v) == nil; got != want {
				t.Errorf("schema %s, value %s: quick check %v, jsonschema-go %v", sj, vj, got, want)
			}
		}
	}
	for _, sj := range []string{`{"anyOf":[{"type":"string"}]}`, `{"enum":["A"]}`, `{"$ref":"#/$defs/x"}`, `{"minItems":1}`,
		`{"additionalProperties":{"type":"string"}}`, `{"not":{}}`, `{"type":"nothing"}`, `{"pattern":"("}`, `{"const":1}`} {
		var decoded any
		_ = json.Unmarshal([]byte(sj), &decoded)
		if compileQuick(decoded) != nil {
			t.Errorf("%s compiled; the quick check does not handle it", sj)
		}
	}
}
