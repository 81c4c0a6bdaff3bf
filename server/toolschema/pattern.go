package toolschema

import (
	"fmt"
	"math/big"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Every pattern this package writes is read by two engines: Go's regexp (RE2), which
// github.com/google/jsonschema-go and so the MCP Go SDK use, and ECMAScript with the u flag,
// which Ajv uses. Patterns are therefore built from the subset both read alike: literals,
// character classes written as explicit ranges, ^ and $ without the multi-line flag, \b,
// groups, alternation and bounded repetition.

// interval is an inclusive range of integers.
type interval struct{ lo, hi *big.Int }

// decimalAlternatives returns regexp alternatives that match the canonical decimal spellings
// (no sign, no leading zeros) of the integers in [lo, hi], where 0 <= lo <= hi.
func decimalAlternatives(lo, hi *big.Int) []string {
	var alts []string
	var run [2]int // lengths of consecutive complete digit counts, as {first, last}
	flush := func() {
		if run[0] == 0 {
			return
		}
		if run[0] == run[1] {
			alts = append(alts, "[1-9]"+digits(run[0]-1))
		} else {
			alts = append(alts, fmt.Sprintf("[1-9][0-9]{%d,%d}", run[0]-1, run[1]-1))
		}
		run = [2]int{}
	}
	for n := len(lo.String()); n <= len(hi.String()); n++ {
		first := pow10(n - 1)
		if n == 1 {
			first = big.NewInt(0)
		}
		last := new(big.Int).Sub(pow10(n), big.NewInt(1))
		from, to := maxInt(lo, first), minInt(hi, last)
		if from.Cmp(to) > 0 {
			continue
		}
		if n > 1 && from.Cmp(first) == 0 && to.Cmp(last) == 0 {
			if run[0] == 0 {
				run[0] = n
			}
			run[1] = n
			continue
		}
		flush()
		alts = append(alts, sameLength(from.String(), to.String())...)
	}
	flush()
	return alts
}

// sameLength returns alternatives matching the decimal strings from s to t, both of one length.
func sameLength(s, t string) []string {
	if s == t {
		return []string{s}
	}
	if len(s) == 1 {
		return []string{digitClass(s[0], t[0])}
	}
	if s[0] == t[0] {
		return []string{s[:1] + group(sameLength(s[1:], t[1:]))}
	}
	n := len(s) - 1
	var alts, upper []string
	low, high := s[0], t[0]
	if s[1:] != strings.Repeat("0", n) {
		alts = append(alts, s[:1]+group(sameLength(s[1:], strings.Repeat("9", n))))
		low++
	}
	if t[1:] != strings.Repeat("9", n) {
		upper = append(upper, t[:1]+group(sameLength(strings.Repeat("0", n), t[1:])))
		high--
	}
	if low <= high {
		alts = append(alts, digitClass(low, high)+digits(n))
	}
	return append(alts, upper...)
}

func digitClass(lo, hi byte) string {
	if lo == hi {
		return string(lo)
	}
	return "[" + string(lo) + "-" + string(hi) + "]"
}

func digits(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "[0-9]"
	}
	return "[0-9]{" + strconv.Itoa(n) + "}"
}

func group(alts []string) string {
	if len(alts) == 1 {
		return alts[0]
	}
	return "(?:" + strings.Join(alts, "|") + ")"
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

func maxInt(a, b *big.Int) *big.Int {
	if a.Cmp(b) >= 0 {
		return a
	}
	return b
}

func minInt(a, b *big.Int) *big.Int {
	if a.Cmp(b) <= 0 {
		return a
	}
	return b
}

// signedAlternatives splits intervals into the alternatives for their non-negative members and
// for the magnitudes of their negative members.
func signedAlternatives(ivs []interval) (nonNegative, negative []string) {
	zero := big.NewInt(0)
	for _, iv := range ivs {
		if iv.hi.Sign() >= 0 {
			nonNegative = append(nonNegative, decimalAlternatives(maxInt(iv.lo, zero), iv.hi)...)
		}
		if iv.lo.Sign() < 0 {
			hi := new(big.Int).Neg(iv.lo)
			lo := new(big.Int).Neg(minInt(iv.hi, big.NewInt(-1)))
			negative = append(negative, decimalAlternatives(lo, hi)...)
		}
	}
	return nonNegative, negative
}

// integerStringPattern matches the canonical decimal strings of the integers in ivs, as protojson
// reads a quoted integer. protojson also reads "-0" as zero, for unsigned kinds too.
func integerStringPattern(ivs []interval) string {
	pos, neg := signedAlternatives(ivs)
	var alts []string
	alts = append(alts, pos...)
	if contains(ivs, big.NewInt(0)) {
		alts = append(alts, "-0")
	}
	if len(neg) > 0 {
		alts = append(alts, "-"+group(neg))
	}
	return "^" + group(orNothing(alts)) + "$"
}

// mapKeyPattern matches the map keys strconv.ParseInt or ParseUint reads as the integers in
// ivs, as protojson reads map keys: a sign for signed kinds and leading zeros are allowed.
func mapKeyPattern(ivs []interval, signed bool) string {
	pos, neg := signedAlternatives(ivs)
	var alts []string
	if len(pos) > 0 {
		sign := ""
		if signed {
			sign = `\+?`
		}
		alts = append(alts, sign+"0*"+group(pos))
	}
	if signed && contains(ivs, big.NewInt(0)) {
		neg = append(neg, "0")
	}
	if len(neg) > 0 {
		alts = append(alts, "-0*"+group(neg))
	}
	return "^" + group(orNothing(alts)) + "$"
}

// orNothing keeps a pattern valid when no integer is allowed: [^\s\S] matches no character in
// either engine.
func orNothing(alts []string) []string {
	if len(alts) == 0 {
		return []string{`[^\s\S]`}
	}
	return alts
}

func contains(ivs []interval, n *big.Int) bool {
	for _, iv := range ivs {
		if iv.lo.Cmp(n) <= 0 && n.Cmp(iv.hi) <= 0 {
			return true
		}
	}
	return false
}

// literalPattern escapes s for use in a pattern read by both engines.
func literalPattern(s string) string {
	var b strings.Builder
	for _, r := range s {
		writeLiteral(&b, r, false)
	}
	return b.String()
}

// portablePattern rewrites an RE2 pattern, as protovalidate compiles it, into an equivalent
// pattern that RE2 and ECMAScript (u flag) both read with the same meaning. It reports false for
// patterns that cannot be written so, such as those with multi-line anchors.
func portablePattern(re2 string) (string, bool) {
	parsed, err := syntax.Parse(re2, syntax.Perl)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	if !writePortable(&b, parsed) {
		return "", false
	}
	out := b.String()
	if _, err := regexp.Compile(out); err != nil {
		return "", false
	}
	return out, true
}

// syntax characters of ECMAScript, the only ones the u flag lets be escaped outside a class.
const ecmaSyntax = `^$\.*+?()[]{}|/`

func writePortable(b *strings.Builder, re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpNoMatch:
		b.WriteString(`[^\s\S]`)
	case syntax.OpEmptyMatch:
		b.WriteString("(?:)")
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 && foldable(r) {
				writeClass(b, foldRanges(r))
				continue
			}
			writeLiteral(b, r, false)
		}
	case syntax.OpCharClass:
		writeClass(b, re.Rune)
	case syntax.OpAnyCharNotNL:
		b.WriteString(`[^\n]`)
	case syntax.OpAnyChar:
		b.WriteString(`[\s\S]`)
	case syntax.OpBeginText:
		b.WriteString("^")
	case syntax.OpEndText:
		// $ and \z alike: without the multi-line flag $ matches only at the end in both engines.
		b.WriteString("$")
	case syntax.OpWordBoundary:
		b.WriteString(`\b`)
	case syntax.OpNoWordBoundary:
		b.WriteString(`\B`)
	case syntax.OpCapture:
		b.WriteString("(?:")
		if !writePortable(b, re.Sub[0]) {
			return false
		}
		b.WriteString(")")
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		if !writeAtom(b, re.Sub[0]) {
			return false
		}
		switch re.Op {
		case syntax.OpStar:
			b.WriteString("*")
		case syntax.OpPlus:
			b.WriteString("+")
		case syntax.OpQuest:
			b.WriteString("?")
		default:
			switch {
			case re.Max == re.Min:
				fmt.Fprintf(b, "{%d}", re.Min)
			case re.Max < 0:
				fmt.Fprintf(b, "{%d,}", re.Min)
			default:
				fmt.Fprintf(b, "{%d,%d}", re.Min, re.Max)
			}
		}
		if re.Flags&syntax.NonGreedy != 0 {
			b.WriteString("?")
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if !writeAtomOrAlternate(b, sub) {
				return false
			}
		}
	case syntax.OpAlternate:
		for i, sub := range re.Sub {
			if i > 0 {
				b.WriteString("|")
			}
			if !writePortable(b, sub) {
				return false
			}
		}
	default:
		// OpBeginLine and OpEndLine need the multi-line flag, which a JSON Schema pattern
		// cannot set.
		return false
	}
	return true
}

// writeAtom writes re so that a following quantifier applies to all of it.
func writeAtom(b *strings.Builder, re *syntax.Regexp) bool {
	switch {
	case re.Op == syntax.OpLiteral && len(re.Rune) == 1,
		re.Op == syntax.OpCharClass, re.Op == syntax.OpAnyChar, re.Op == syntax.OpAnyCharNotNL,
		re.Op == syntax.OpCapture:
		return writePortable(b, re)
	}
	b.WriteString("(?:")
	ok := writePortable(b, re)
	b.WriteString(")")
	return ok
}

// writeAtomOrAlternate writes one element of a concatenation, grouping an alternation.
func writeAtomOrAlternate(b *strings.Builder, re *syntax.Regexp) bool {
	if re.Op != syntax.OpAlternate {
		return writePortable(b, re)
	}
	b.WriteString("(?:")
	ok := writePortable(b, re)
	b.WriteString(")")
	return ok
}

func foldable(r rune) bool { return unicode.SimpleFold(r) != r }

// foldRanges returns the case-folding orbit of r as class ranges.
func foldRanges(r rune) []rune {
	orbit := []rune{r}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		orbit = append(orbit, f)
	}
	slices.Sort(orbit)
	out := make([]rune, 0, 2*len(orbit))
	for _, f := range orbit {
		out = append(out, f, f)
	}
	return out
}

// writeClass writes ranges (pairs of lo, hi) as an explicit class.
func writeClass(b *strings.Builder, ranges []rune) {
	if len(ranges) == 2 && ranges[0] == ranges[1] {
		writeLiteral(b, ranges[0], false)
		return
	}
	if len(ranges) == 0 {
		b.WriteString(`[^\s\S]`)
		return
	}
	// A class that covers everything but a few ranges is shorter negated.
	negated := negate(ranges)
	if len(negated) > 0 && len(negated) < len(ranges) {
		b.WriteString("[^")
		writeRanges(b, negated)
		b.WriteString("]")
		return
	}
	if len(negated) == 0 {
		b.WriteString(`[\s\S]`)
		return
	}
	b.WriteString("[")
	writeRanges(b, ranges)
	b.WriteString("]")
}

func writeRanges(b *strings.Builder, ranges []rune) {
	for i := 0; i+1 < len(ranges); i += 2 {
		writeLiteral(b, ranges[i], true)
		if ranges[i+1] != ranges[i] {
			if ranges[i+1] > ranges[i]+1 {
				b.WriteString("-")
			}
			writeLiteral(b, ranges[i+1], true)
		}
	}
}

func negate(ranges []rune) []rune {
	var out []rune
	next := rune(0)
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i] > next {
			out = append(out, next, ranges[i]-1)
		}
		next = ranges[i+1] + 1
	}
	if next <= unicode.MaxRune {
		out = append(out, next, unicode.MaxRune)
	}
	return out
}

// writeLiteral writes one character so that both engines read it as itself.
func writeLiteral(b *strings.Builder, r rune, inClass bool) {
	switch {
	case r < 0x20 || r == 0x7f:
		fmt.Fprintf(b, `\x%02x`, r)
	case inClass && strings.ContainsRune(`\]-^[`, r):
		b.WriteByte('\\')
		b.WriteRune(r)
	case !inClass && strings.ContainsRune(ecmaSyntax, r):
		b.WriteByte('\\')
		b.WriteRune(r)
	default:
		b.WriteRune(r)
	}
}
