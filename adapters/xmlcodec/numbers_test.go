package xmlcodec_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// numbersProto has one field per number mapping: the proto integer and float types, and
// integer fields whose xsd_type names a narrower XSD type.
const numbersProto = `syntax = "proto3";
package agentbridge.dyntest.numbers;
import "agentbridge/v1/options.proto";
import "google/protobuf/wrappers.proto";

message N {
  optional int32 i32 = 1;
  optional int64 i64 = 2;
  optional uint32 u32 = 3;
  optional uint64 u64 = 4;
  optional float f32 = 5;
  optional double f64 = 6;
  optional int32 short = 7 [(agentbridge.v1.xml) = {xsd_type: "short"}];
  optional int32 byte = 8 [(agentbridge.v1.xml) = {xsd_type: "byte"}];
  optional uint32 unsigned_short = 9 [(agentbridge.v1.xml) = {xsd_type: "unsignedShort"}];
  optional uint32 unsigned_byte = 10 [(agentbridge.v1.xml) = {xsd_type: "unsignedByte"}];
  optional sint64 int = 11 [(agentbridge.v1.xml) = {xsd_type: "int"}];
  optional int64 unsigned_int = 12 [(agentbridge.v1.xml) = {xsd_type: "unsignedInt"}];
  google.protobuf.Int32Value maybe_short = 13 [(agentbridge.v1.xml) = {xsd_type: "short"}];
  repeated uint32 bytes = 14 [(agentbridge.v1.xml) = {xsd_type: "unsignedByte"}];
  optional int32 short_attr = 15 [(agentbridge.v1.xml) = {attribute: true, xsd_type: "short"}];
}
`

func numbers(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	return prototest.Compile(t, "numbers.proto", numbersProto).Messages().ByName("N")
}

// TestDecodeNumbers: integers take an optional sign and digits, floats XSD's forms, and an
// integer field with an XSD integer xsd_type only values in that type's range. Before, "++5"
// read as 5 and "+-5" as -5 (one "+" trimmed, then strconv took a sign), "0x1p-2" and "1_0" as
// strconv reads them, and an xsd:short of 40000 as 40000.
func TestDecodeNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field, text string
		want        string // the value as fmt prints it; "" when the value must be refused
		wantErr     string
	}{
		{field: "i32", text: "+5", want: "5"},
		{field: "i32", text: " -007 ", want: "-7"},
		{field: "i32", text: "++5", wantErr: `"++5" is not a 32-bit integer`},
		{field: "i32", text: "+-5", wantErr: `"+-5" is not a 32-bit integer`},
		{field: "i64", text: "-+5", wantErr: `"-+5" is not a 64-bit integer`},
		{field: "i64", text: "+", wantErr: "is not a 64-bit integer"},
		{field: "u32", text: "+-0", wantErr: "is not an unsigned 32-bit integer"},
		{field: "u64", text: "++1", wantErr: "is not an unsigned 64-bit integer"},
		{field: "u64", text: "1_000", wantErr: "is not an unsigned 64-bit integer"},
		{field: "f64", text: "0x1p-2", wantErr: `"0x1p-2" is not an XSD number`},
		{field: "f64", text: "1_0", wantErr: `"1_0" is not an XSD number`},
		{field: "f32", text: "0X10", wantErr: "is not an XSD number"},
		{field: "f64", text: ".", wantErr: "is not an XSD number"},
		{field: "f64", text: "1e", wantErr: "is not an XSD number"},
		{field: "f64", text: "e5", wantErr: "is not an XSD number"},
		{field: "f64", text: "1.", want: "1"},
		{field: "f64", text: "-.5E+2", want: "-50"},
		{field: "f32", text: "+1e-3", want: "0.001"},
		{field: "f64", text: "-INF", want: "-Inf"},
		{field: "short", text: "32767", want: "32767"},
		{field: "short", text: "-32768", want: "-32768"},
		{field: "short", text: "32768", wantErr: "32768 is outside xsd:short, -32768 to 32767"},
		{field: "short", text: "-32769", wantErr: "is outside xsd:short"},
		{field: "byte", text: "-128", want: "-128"},
		{field: "byte", text: "128", wantErr: "128 is outside xsd:byte, -128 to 127"},
		{field: "unsigned_short", text: "65535", want: "65535"},
		{field: "unsigned_short", text: "65536", wantErr: "is outside xsd:unsignedShort"},
		{field: "unsigned_byte", text: "256", wantErr: "is outside xsd:unsignedByte"},
		{field: "int", text: "2147483648", wantErr: "is outside xsd:int"},
		{field: "unsigned_int", text: "4294967295", want: "4294967295"},
		{field: "unsigned_int", text: "-1", wantErr: "-1 is outside xsd:unsignedInt"},
		{field: "maybe_short", text: "40000", wantErr: "is outside xsd:short"},
		{field: "bytes", text: "300", wantErr: "is outside xsd:unsignedByte"},
	}
	md := numbers(t)
	for _, tt := range tests {
		t.Run(tt.field+" "+tt.text, func(t *testing.T) {
			t.Parallel()
			fd := md.Fields().ByName(protoreflect.Name(tt.field))
			name := fd.JSONName()
			m := dynamicpb.NewMessage(md)
			err := decode([]byte("<r><"+name+">"+tt.text+"</"+name+"></r>"), m)
			if tt.wantErr != "" {
				var de *xmlcodec.DecodeError
				if !errors.As(err, &de) || !strings.Contains(err.Error(), "element "+name+": ") || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want a DecodeError naming %s containing %q", err, name, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v := m.Get(fd)
			if fd.Message() != nil {
				v = v.Message().Get(fd.Message().Fields().ByNumber(1))
			}
			if got := strings.Replace(strings.TrimPrefix(v.String(), "+"), "+Inf", "Inf", 1); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("attribute", func(t *testing.T) {
		t.Parallel()
		err := decode([]byte(`<r shortAttr="-40000"/>`), dynamicpb.NewMessage(md))
		if err == nil || !strings.Contains(err.Error(), "element @shortAttr: -40000 is outside xsd:short") {
			t.Fatalf("got %v, want the attribute refused", err)
		}
	})
}

// TestEncodeChecksXSDIntegerRanges: an agent's value beyond the XSD type never reaches the
// backend, which would refuse it or read it otherwise.
func TestEncodeChecksXSDIntegerRanges(t *testing.T) {
	t.Parallel()
	md := numbers(t)
	tests := []struct {
		field   string
		value   protoreflect.Value
		wantErr string // "" when the value is written
	}{
		{"short", protoreflect.ValueOfInt32(-32768), ""},
		{"short", protoreflect.ValueOfInt32(32768), "32768 is outside xsd:short"},
		{"byte", protoreflect.ValueOfInt32(-129), "-129 is outside xsd:byte"},
		{"unsigned_short", protoreflect.ValueOfUint32(65536), "65536 is outside xsd:unsignedShort"},
		{"unsigned_byte", protoreflect.ValueOfUint32(255), ""},
		{"unsigned_byte", protoreflect.ValueOfUint32(256), "256 is outside xsd:unsignedByte"},
		{"int", protoreflect.ValueOfInt64(-2147483649), "is outside xsd:int"},
		{"unsigned_int", protoreflect.ValueOfInt64(-1), "-1 is outside xsd:unsignedInt"},
		{"short_attr", protoreflect.ValueOfInt32(99999), "99999 is outside xsd:short"},
	}
	p, err := xmlcodec.For(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.field+" "+tt.value.String(), func(t *testing.T) {
			t.Parallel()
			fd := md.Fields().ByName(protoreflect.Name(tt.field))
			m := dynamicpb.NewMessage(md)
			m.Set(fd, tt.value)
			out, err := p.AppendElement(nil, xmlcodec.Name{Local: "r"}, m)
			if tt.wantErr == "" {
				if err != nil || !strings.Contains(string(out), ">"+tt.value.String()+"<") {
					t.Fatalf("got %s, %v; want the value written", out, err)
				}
				return
			}
			var ee *xmlcodec.EncodeError
			if !errors.As(err, &ee) || ee.Field != fd.FullName() || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an EncodeError for %s containing %q", err, fd.FullName(), tt.wantErr)
			}
		})
	}
	t.Run("wrapper", func(t *testing.T) {
		t.Parallel()
		fd := md.Fields().ByName("maybe_short")
		m := dynamicpb.NewMessage(md)
		w := m.NewField(fd).Message()
		w.Set(w.Descriptor().Fields().ByNumber(1), protoreflect.ValueOfInt32(-40000))
		m.Set(fd, protoreflect.ValueOfMessage(w))
		if _, err := p.AppendElement(nil, xmlcodec.Name{Local: "r"}, m); err == nil || !strings.Contains(err.Error(), "is outside xsd:short") {
			t.Fatalf("got %v, want the wrapped value refused", err)
		}
	})
}

// TestXSDIntegerPlan: an integer xsd_type must fit the proto type, so that every value of the
// XSD type has a proto value; a proto type wider than the XSD type is the point.
func TestXSDIntegerPlan(t *testing.T) {
	t.Parallel()
	tests := []struct{ decl, want string }{
		{`int32 f = 1 [(agentbridge.v1.xml) = {xsd_type: "long"}]`, `xsd:long holds -9223372036854775808 to 9223372036854775807, beyond int32`},
		{`uint32 f = 1 [(agentbridge.v1.xml) = {xsd_type: "short"}]`, "xsd:short holds -32768 to 32767, beyond uint32"},
		{`int64 f = 1 [(agentbridge.v1.xml) = {xsd_type: "unsignedLong"}]`, "beyond int64"},
		{`string f = 1 [(agentbridge.v1.xml) = {xsd_type: "short"}]`, "xsd:short is an integer type; map it to a proto integer type"},
		{`double f = 1 [(agentbridge.v1.xml) = {xsd_type: "byte"}]`, "xsd:byte is an integer type"},
		{`int32 f = 1 [(agentbridge.v1.xml) = {xsd_type: "decimal"}]`, `map it as string with xsd_type "decimal"`},
		{`int32 f = 1 [(agentbridge.v1.xml) = {xsd_type: "shorts"}]`, "xsd_type applies to string, bytes, integer,"},
	}
	for i, tt := range tests {
		t.Run(tt.decl, func(t *testing.T) {
			t.Parallel()
			src := `syntax = "proto3"; package agentbridge.dyntest.intplan` + string(rune('a'+i)) + `;
import "agentbridge/v1/options.proto";
message M { ` + tt.decl + `; }`
			md := prototest.Compile(t, "intplan.proto", src).Messages().ByName("M")
			if _, err := xmlcodec.For(md); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a plan error containing %q", err, tt.want)
			}
		})
	}
}
