package xmlcodec_test

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// lexicalCases lists, for every XSD type a string field can keep, forms in its lexical space and
// forms out of it: zones and their absence, fractions, the edges of each part, leap days.
var lexicalCases = map[string]struct{ valid, invalid []string }{
	"dateTime": {
		valid: []string{"2024-05-01T12:30:00", "2024-05-01T12:30:00Z", "2024-05-01T12:30:00+05:30", "2024-05-01T12:30:00-00:00",
			"2024-05-01T12:30:00.5", "2024-05-01T12:30:00.123456789012Z", "2024-05-01T24:00:00", "2024-05-01T24:00:00.000+14:00",
			"-0044-03-15T12:00:00", "12024-05-01T00:00:00Z", "0000-02-29T00:00:00", "2000-02-29T23:59:59-13:59", "0001-01-01T00:00:00Z"},
		invalid: []string{"", "2024-05-01", "2024-05-01T12:30", "2024-05-01 12:30:00", "2024-5-01T12:30:00", "024-05-01T12:30:00",
			"02024-05-01T12:30:00", "2024-05-01T12:30:00.", "2024-05-01T12:30:00+5:30", "2024-05-01T12:30:00+14:01", "2024-05-01T12:30:00+15:00",
			"2024-05-01T24:00:01", "2024-05-01T24:00:00.5", "2024-05-01T23:60:00", "2024-05-01T23:59:60", "2023-02-29T00:00:00",
			"1900-02-29T00:00:00", "2024-04-31T00:00:00", "2024-13-01T00:00:00", "2024-00-01T00:00:00", "2024-05-00T00:00:00",
			" 2024-05-01T12:30:00", "2024-05-01T12:30:00z", "+2024-05-01T12:30:00", "2024-05-01T12:30:00ZZ", "2024-05-01T12:30:00+05:30:00"},
	},
	"dateTimeStamp": {
		valid:   []string{"2024-05-01T12:30:00Z", "2024-05-01T12:30:00+05:30", "2024-05-01T12:30:00.25-08:00"},
		invalid: []string{"2024-05-01T12:30:00", "2024-05-01T12:30:00.25", "2024-05-01Z"},
	},
	"date": {
		valid: []string{"2024-05-01", "2024-05-01+02:00", "2024-05-01Z", "2024-02-29", "2000-02-29", "0400-02-29", "0000-02-29",
			"-0001-12-31", "10000-01-01-14:00", "2024-12-31"},
		invalid: []string{"", "2024-05-01T00:00:00", "2024-5-1", "2023-02-29", "2100-02-29", "2024-06-31", "20240501", "2024-05-01+2:00",
			"2024-05-01 ", "2024-05", "2024-05-01+14:30", "-0000-02-30"},
	},
	"time": {
		valid:   []string{"12:30:00", "00:00:00Z", "23:59:59.999999999999+01:00", "24:00:00", "24:00:00.00Z", "12:30:00-00:00"},
		invalid: []string{"", "12:30", "24:00:00.1", "25:00:00", "12:30:00.", "1:30:00", "12:30:00+0100", "T12:30:00"},
	},
	"gYear": {
		valid:   []string{"2024", "0000", "-0001", "12024", "2024Z", "2024+02:00"},
		invalid: []string{"", "24", "024", "02024", "2024-05", "+2024", "2024+2"},
	},
	"gYearMonth": {
		valid:   []string{"2024-05", "2024-12Z", "-0044-03+01:00", "12024-01"},
		invalid: []string{"", "2024-5", "2024-13", "2024-00", "2024-05-01", "--05"},
	},
	"gMonth": {
		valid:   []string{"--05", "--12Z", "--01-05:00"},
		invalid: []string{"", "05", "--5", "--13", "--00", "--05--", "--05-01"},
	},
	"gMonthDay": {
		valid:   []string{"--05-01", "--02-29", "--12-31Z", "--04-30+10:00"},
		invalid: []string{"", "--02-30", "--04-31", "05-01", "--5-01", "--13-01", "--05-00", "---01"},
	},
	"gDay": {
		valid:   []string{"---01", "---31", "---15Z", "---15-10:00"},
		invalid: []string{"", "---00", "---32", "--01", "---1", "----01"},
	},
	"duration": {
		valid: []string{"P1Y", "P1M", "P1D", "PT1H", "PT1M", "PT1S", "PT1.5S", "P1Y2M3DT4H5M6.7S", "-P1D", "P0Y", "PT0S",
			"P1YT1S", "P1MT1M", "P01D", "PT36H", "P1Y2M", "P3DT4H"},
		invalid: []string{"", "P", "PT", "-P", "P1YT", "P1S", "P1H", "PT1D", "PT1Y", "P1.5Y", "PT1.5M", "P-1D", "P+1D", "1D",
			"P1M1Y", "PT1S1M", "P1DT1H1H", "PT1.S", "PT.5S", "P 1D", "p1d", "+P1D", "P1D1D"},
	},
	"dayTimeDuration": {
		valid:   []string{"P1D", "PT1H", "P3DT4H5M6.7S", "-PT0.5S"},
		invalid: []string{"P1Y", "P1M", "P1M1D", "P", "PT"},
	},
	"yearMonthDuration": {
		valid:   []string{"P1Y", "P1M", "P1Y2M", "-P0M"},
		invalid: []string{"P1D", "PT1H", "P1Y2MT1S", "P", "P1M1Y"},
	},
	"decimal": {
		valid:   []string{"0", "-0", "+0.0", "12.50", "1.", ".5", "-.5", "0012.3400", "123456789012345678901234567890.123456789012345678901234567890"},
		invalid: []string{"", ".", "+", "-", "1e3", "1,5", "1.2.3", " 1", "1 ", "INF", "NaN", "0x10", "١٢"},
	},
	"integer": {
		valid:   []string{"0", "-0", "+0", "007", "-42", "+42", "123456789012345678901234567890"},
		invalid: []string{"", "+", "-", "1.0", "1e3", " 1", "--1", "+-1"},
	},
	"nonNegativeInteger": {
		valid:   []string{"0", "-0", "-000", "+0", "42", "+42", "0042"},
		invalid: []string{"-1", "-01", "", "1.0"},
	},
	"positiveInteger": {
		valid:   []string{"1", "+1", "0001", "99999999999999999999"},
		invalid: []string{"0", "-0", "+0", "000", "-1", ""},
	},
	"nonPositiveInteger": {
		valid:   []string{"0", "-0", "+0", "+000", "-1", "-0042"},
		invalid: []string{"1", "+1", "01", ""},
	},
	"negativeInteger": {
		valid:   []string{"-1", "-0001", "-99999999999999999999"},
		invalid: []string{"0", "-0", "-000", "1", "+1", ""},
	},
}

// TestLexicalForms checks every type in the table against forms written by hand, with both the
// scanner the codec runs and the pattern the schemas advertise.
func TestLexicalForms(t *testing.T) {
	t.Parallel()
	for name, c := range lexicalCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			typ, ok := xmlcodec.LookupXSDType(name)
			if !ok {
				t.Fatalf("no XSD type %s", name)
			}
			re := regexp.MustCompile(typ.Pattern)
			for _, s := range c.valid {
				if !typ.Valid(s) || !re.MatchString(s) {
					t.Errorf("%q: scanner %v, pattern %v; want both to accept it", s, typ.Valid(s), re.MatchString(s))
				}
			}
			for _, s := range c.invalid {
				if typ.Valid(s) || re.MatchString(s) {
					t.Errorf("%q: scanner %v, pattern %v; want both to refuse it", s, typ.Valid(s), re.MatchString(s))
				}
			}
		})
	}
}

func TestEveryLexicalTypeHasCases(t *testing.T) {
	t.Parallel()
	for _, name := range lexicalTypeNames() {
		if _, ok := lexicalCases[name]; !ok {
			t.Errorf("XSD type %s has no lexicalCases", name)
		}
	}
}

func lexicalTypeNames() []string {
	var names []string
	for name := range lexicalCases {
		names = append(names, name)
	}
	for _, name := range []string{"dateTime", "dateTimeStamp", "date", "time", "gYear", "gYearMonth", "gMonth", "gMonthDay", "gDay",
		"duration", "dayTimeDuration", "yearMonthDuration", "decimal", "integer", "nonNegativeInteger", "positiveInteger",
		"nonPositiveInteger", "negativeInteger"} {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// mutationAlphabet holds the characters the lexical forms are made of, and a few they are not.
const mutationAlphabet = "0123456789-+:.TZPYMDHS zt1"

// mutate changes s in one to three places: a character replaced, inserted or deleted, or a
// part duplicated.
func mutate(r *rand.Rand, s string) string {
	b := []byte(s)
	for range 1 + r.IntN(3) {
		c := mutationAlphabet[r.IntN(len(mutationAlphabet))]
		switch i := r.IntN(len(b) + 1); r.IntN(4) {
		case 0:
			if i < len(b) {
				b[i] = c
			}
		case 1:
			b = slices.Insert(b, i, c)
		case 2:
			if i < len(b) {
				b = slices.Delete(b, i, i+1)
			}
		default:
			if i < len(b) {
				j := i + r.IntN(len(b)-i+1)
				b = slices.Insert(b, j, b[i:j]...)
			}
		}
	}
	return string(b)
}

// TestLexicalScannersMatchPatterns holds each hand-written scanner to its pattern on many forms
// near the valid ones, where a disagreement would hide: the codec checks with the scanner, and
// agents are told the pattern.
func TestLexicalScannersMatchPatterns(t *testing.T) {
	t.Parallel()
	for name, c := range lexicalCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			typ, _ := xmlcodec.LookupXSDType(name)
			re := regexp.MustCompile(typ.Pattern)
			r := rand.New(rand.NewPCG(1, uint64(len(name))))
			seeds := append(slices.Clone(c.valid), c.invalid...)
			for _, other := range lexicalCases { // forms of the other types are near misses too
				seeds = append(seeds, other.valid...)
			}
			disagreements := 0
			for i := range 20000 {
				s := seeds[i%len(seeds)]
				if i >= len(seeds) {
					s = mutate(r, s)
				}
				if got, want := typ.Valid(s), re.MatchString(s); got != want {
					disagreements++
					if disagreements <= 10 {
						t.Errorf("%q: scanner says %v, pattern %s says %v", s, got, typ.Pattern, want)
					}
				}
			}
		})
	}
}

// FuzzLexicalScanners runs the same comparison on fuzzed input (go test -fuzz FuzzLexicalScanners).
func FuzzLexicalScanners(f *testing.F) {
	for _, c := range lexicalCases {
		for _, s := range append(slices.Clone(c.valid), c.invalid...) {
			f.Add(s)
		}
	}
	type pair struct {
		typ *xmlcodec.XSDType
		re  *regexp.Regexp
	}
	var pairs []pair
	for _, name := range lexicalTypeNames() {
		typ, _ := xmlcodec.LookupXSDType(name)
		pairs = append(pairs, pair{typ, regexp.MustCompile(typ.Pattern)})
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range pairs {
			if got, want := p.typ.Valid(s), p.re.MatchString(s); got != want {
				t.Errorf("xsd:%s %q: scanner says %v, pattern says %v", p.typ.Name, s, got, want)
			}
		}
	})
}

// TestLexicalFormsSayWhatTheyKeep checks the descriptions the schemas carry name the type and
// say what is kept, as agents read them.
func TestLexicalFormsSayWhatTheyKeep(t *testing.T) {
	t.Parallel()
	for _, name := range lexicalTypeNames() {
		typ, _ := xmlcodec.LookupXSDType(name)
		if !strings.HasPrefix(typ.Form, "xsd:"+name+",") || !strings.Contains(typ.Form, "kept") && !strings.Contains(typ.Form, "keeps") {
			t.Errorf("xsd:%s form %q does not name the type and what it keeps", name, typ.Form)
		}
	}
	dt, _ := xmlcodec.LookupXSDType("dateTime")
	if !strings.Contains(dt.Form, "keeps the offset or its absence exactly") {
		t.Errorf("dateTime form %q", dt.Form)
	}
}
