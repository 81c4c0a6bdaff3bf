package toolschema

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestDecimalAlternatives(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	ranges := [][2]int64{{0, 0}, {0, 9}, {1, 9}, {5, 5}, {0, 10}, {7, 123}, {10, 99}, {100, 100}, {99, 1000}, {0, 1999}}
	for range 30 {
		a, b := r.Int64N(2500), r.Int64N(2500)
		ranges = append(ranges, [2]int64{min(a, b), max(a, b)})
	}
	for _, rg := range ranges {
		t.Run(fmt.Sprintf("%d-%d", rg[0], rg[1]), func(t *testing.T) {
			t.Parallel()
			re := regexp.MustCompile("^" + group(decimalAlternatives(big.NewInt(rg[0]), big.NewInt(rg[1]))) + "$")
			for n := int64(0); n <= 2600; n++ {
				if got, want := re.MatchString(strconv.FormatInt(n, 10)), rg[0] <= n && n <= rg[1]; got != want {
					t.Fatalf("%d: match = %v, want %v (%s)", n, got, want, re)
				}
			}
			for _, s := range []string{"", "00", "01", "-1", "1.0", "+1"} {
				if re.MatchString(s) {
					t.Errorf("matches %q", s)
				}
			}
		})
	}
}

// The quoted-integer patterns accept exactly what protojson accepts in canonical decimal form
// (protojson's exponent and fraction forms, "1e2", are the documented exception).
func TestIntegerStringPatternMatchesProtojson(t *testing.T) {
	t.Parallel()
	kinds := []struct {
		name string
		lo   *big.Int
		hi   *big.Int
		msg  func() proto.Message
	}{
		{"int32", big.NewInt(math.MinInt32), big.NewInt(math.MaxInt32), func() proto.Message { return &wrapperspb.Int32Value{} }},
		{"uint32", big.NewInt(0), big.NewInt(math.MaxUint32), func() proto.Message { return &wrapperspb.UInt32Value{} }},
		{"int64", big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64), func() proto.Message { return &wrapperspb.Int64Value{} }},
		{"uint64", big.NewInt(0), new(big.Int).SetUint64(math.MaxUint64), func() proto.Message { return &wrapperspb.UInt64Value{} }},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			re := regexp.MustCompile(integerStringPattern([]interval{{k.lo, k.hi}}))
			one := big.NewInt(1)
			var samples []string
			for _, n := range []*big.Int{k.lo, k.hi, big.NewInt(0), big.NewInt(-1), big.NewInt(1), big.NewInt(1000)} {
				for _, d := range []*big.Int{big.NewInt(-1), big.NewInt(0), one} {
					samples = append(samples, new(big.Int).Add(n, d).String())
				}
			}
			r := rand.New(rand.NewPCG(3, 4))
			for range 200 {
				samples = append(samples, strconv.FormatInt(int64(r.Uint64()), 10), strconv.FormatUint(r.Uint64(), 10),
					strconv.FormatInt(int64(r.Int32()), 10))
			}
			samples = append(samples, "-0", "+1", "01", " 1", "1 ", "", "-", "0x1", "1_000", "١")
			for _, s := range samples {
				err := protojson.Unmarshal([]byte(strconv.Quote(s)), k.msg())
				if got, want := re.MatchString(s), err == nil; got != want {
					t.Errorf("%q: pattern match = %v, protojson accepts = %v", s, got, want)
				}
			}
		})
	}
}

func TestMapKeyPatternMatchesParseInt(t *testing.T) {
	t.Parallel()
	samples := []string{"0", "-0", "+0", "00", "+007", "-007", "1", "-1", "+1", "2147483647", "2147483648", "-2147483648",
		"-2147483649", "4294967295", "4294967296", "0004294967295", "", "+", "-", "1.0", " 1", "a", "9223372036854775807",
		"9223372036854775808", "-9223372036854775808", "18446744073709551615", "18446744073709551616"}
	for _, bits := range []int{32, 64} {
		for _, signed := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d-%v", bits, signed), func(t *testing.T) {
				t.Parallel()
				var lo, hi *big.Int
				if signed {
					lo = new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
					hi = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits-1)), big.NewInt(1))
				} else {
					lo, hi = big.NewInt(0), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits)), big.NewInt(1))
				}
				re := regexp.MustCompile(mapKeyPattern([]interval{{lo, hi}}, signed))
				for _, s := range samples {
					var err error
					if signed {
						_, err = strconv.ParseInt(s, 10, bits)
					} else {
						_, err = strconv.ParseUint(s, 10, bits)
					}
					if got, want := re.MatchString(s), err == nil; got != want {
						t.Errorf("%q: pattern match = %v, strconv accepts = %v", s, got, want)
					}
				}
			})
		}
	}
}

func TestPortablePattern(t *testing.T) {
	t.Parallel()
	samples := []string{"", "a", "A", "abc", "ABC", "hello world", "HELLO\tWORLD", "a\nb", "a\rb", "\u212a", "k", "K",
		"x-y", "a.b", "a]b", "a^b", "a\\b", "é", "😀", "123", "a/b", "{}", "a\u2028b"}
	cases := []struct {
		re2      string
		portable bool
	}{
		{`^[A-Z]-[0-9]{3}$`, true},
		{`(?i)^hello\s+world$`, true},
		{`(?i)k`, true},
		{`^a.b$`, true},
		{`(?s)^a.b$`, true},
		{`\Aabc\z`, true},
		{`[[:alpha:]]+`, true},
		{`\pL`, true},
		{`\d{2,}`, true},
		{`(?P<x>a)|b`, true},
		{`[^\]\^\\-]`, true},
		{`a\.b|a\/b|\{\}`, true},
		{`\bword\B`, true},
		{`a*?b+?c??`, true},
		{`(?m)^ok$`, false},
		{`(?U)a+`, true},
	}
	for _, tc := range cases {
		t.Run(tc.re2, func(t *testing.T) {
			t.Parallel()
			got, ok := portablePattern(tc.re2)
			if ok != tc.portable {
				t.Fatalf("portable = %v, want %v (%q)", ok, tc.portable, got)
			}
			if !ok {
				return
			}
			orig, translated := regexp.MustCompile(tc.re2), regexp.MustCompile(got)
			for _, s := range samples {
				if orig.MatchString(s) != translated.MatchString(s) {
					t.Errorf("%q: %s and %s disagree", s, tc.re2, got)
				}
			}
		})
	}
}
