package xmlcodec

import (
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file is the lexical half of the mapping table in docs/xml-mapping.md: the XSD built-ins
// whose lexical form carries meaning a proto scalar would lose (a time zone or its absence, a
// date without a time, years and months in a duration, every digit of a decimal). A string
// field annotated with one of them keeps the form byte for byte, and the codec checks it
// against the type's rule in both directions, so a value that reaches the other side is one
// the backend's XSD (or the agent's schema) accepts.
//
// Each rule is written twice: as a regular expression, which toolschema puts into the MCP and
// OpenAPI schemas as "pattern", and as a hand-written scanner, which the codec runs per value
// without allocating. TestLexicalScannersMatchPatterns holds the two to the same language.
// The rules are XSD 1.1 Part 2's (§3.3), which accept everything XSD 1.0 does and also year
// 0000; days must exist in their month (February 29 in leap years only, and in gMonthDay).

// XSDType is one XSD built-in whose lexical form a string field can keep exactly.
type XSDType struct {
	// Name is the type's local name in the XSD namespace, as xsd_type gives it.
	Name string
	// Pattern is the lexical rule as an anchored regular expression that reads the same in RE2
	// and in ECMAScript with the u flag.
	Pattern string
	// Form says in a sentence what the form is and what is kept, for schema descriptions.
	Form string

	check func(string) bool
}

// Valid reports whether s is in the type's lexical space. Whitespace is not trimmed.
func (t *XSDType) Valid(s string) bool { return t.check(s) }

// Building blocks of the patterns, named as XSD 1.1 Part 2 names the parts of a date/time form.
const (
	patYear     = `-?(?:[1-9][0-9]{3,}|0[0-9]{3})`
	patLeapYear = `-?(?:(?:[0-9]{2}|[1-9][0-9]{2,})(?:0[48]|[2468][048]|[13579][26])|(?:[1-9][0-9]*)?(?:0[048]|[2468][048]|[13579][26])00)`
	patMonth    = `(?:0[1-9]|1[0-2])`
	patDay      = `(?:0[1-9]|[12][0-9]|3[01])`
	// A month and a day that exists in it in every year.
	patMonthDay = `(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))`
	patDate     = `(?:` + patYear + `-` + patMonthDay + `|` + patLeapYear + `-02-29)`
	patTime     = `(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?|24:00:00(?:\.0+)?)`
	patZone     = `(?:Z|[+\-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))`
	patSeconds  = `[0-9]+(?:\.[0-9]+)?S`
	patDurTime  = `T(?:[0-9]+H(?:[0-9]+M)?(?:` + patSeconds + `)?|[0-9]+M(?:` + patSeconds + `)?|` + patSeconds + `)`
)

var xsdTypes = map[string]*XSDType{}

func init() {
	for _, t := range []*XSDType{
		{Name: "dateTime", Pattern: `^` + patDate + `T` + patTime + patZone + `?$`, check: validDateTime(false),
			Form: "xsd:dateTime, such as 2024-05-01T12:30:00+02:00 or 2024-05-01T12:30:00: keeps the offset or its absence exactly."},
		{Name: "dateTimeStamp", Pattern: `^` + patDate + `T` + patTime + patZone + `$`, check: validDateTime(true),
			Form: "xsd:dateTimeStamp, such as 2024-05-01T12:30:00+02:00, with a required zone: keeps the offset exactly."},
		{Name: "date", Pattern: `^` + patDate + patZone + `?$`, check: validDate,
			Form: "xsd:date, such as 2024-05-01 or 2024-05-01+02:00: a day, not an instant; keeps the zone or its absence exactly."},
		{Name: "time", Pattern: `^` + patTime + patZone + `?$`, check: validTime,
			Form: "xsd:time, such as 12:30:00 or 12:30:00.5+02:00: keeps the zone or its absence and every fractional digit exactly."},
		{Name: "gYear", Pattern: `^` + patYear + patZone + `?$`, check: validGYear,
			Form: "xsd:gYear, such as 2024: a year of at least four digits, with an optional zone, kept exactly."},
		{Name: "gYearMonth", Pattern: `^` + patYear + `-` + patMonth + patZone + `?$`, check: validGYearMonth,
			Form: "xsd:gYearMonth, such as 2024-05: a month of a year, with an optional zone, kept exactly."},
		{Name: "gMonth", Pattern: `^--` + patMonth + patZone + `?$`, check: validGMonth,
			Form: "xsd:gMonth, such as --05: a month of every year, with an optional zone, kept exactly."},
		{Name: "gMonthDay", Pattern: `^--(?:` + patMonthDay + `|02-29)` + patZone + `?$`, check: validGMonthDay,
			Form: "xsd:gMonthDay, such as --05-01: a day of every year, with an optional zone, kept exactly."},
		{Name: "gDay", Pattern: `^---` + patDay + patZone + `?$`, check: validGDay,
			Form: "xsd:gDay, such as ---01: a day of every month, with an optional zone, kept exactly."},
		{Name: "duration", Pattern: `^-?P(?:(?:[0-9]+Y(?:[0-9]+M)?(?:[0-9]+D)?|[0-9]+M(?:[0-9]+D)?|[0-9]+D)(?:` + patDurTime + `)?|` + patDurTime + `)$`,
			check: durationChecker(true, true),
			Form:  "xsd:duration, such as P1Y2M3DT4H5M6.7S: keeps years and months apart from days, and every digit, exactly."},
		{Name: "dayTimeDuration", Pattern: `^-?P(?:[0-9]+D(?:` + patDurTime + `)?|` + patDurTime + `)$`,
			check: durationChecker(false, true),
			Form:  "xsd:dayTimeDuration, such as P3DT4H5M6.7S: days, hours, minutes and seconds, kept exactly."},
		{Name: "yearMonthDuration", Pattern: `^-?P(?:[0-9]+Y(?:[0-9]+M)?|[0-9]+M)$`,
			check: durationChecker(true, false),
			Form:  "xsd:yearMonthDuration, such as P1Y2M: years and months, kept exactly."},
		{Name: "decimal", Pattern: `^[+\-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$`, check: validDecimal,
			Form: "xsd:decimal, such as -12.50: keeps every digit, trailing zeros included, exactly."},
		{Name: "integer", Pattern: `^[+\-]?[0-9]+$`, check: integerChecker(signAny),
			Form: "xsd:integer, such as -42: any number of digits, kept exactly."},
		{Name: "nonNegativeInteger", Pattern: `^(?:\+?[0-9]+|-0+)$`, check: integerChecker(signNonNegative),
			Form: "xsd:nonNegativeInteger, such as 42: zero or more, any number of digits, kept exactly."},
		{Name: "positiveInteger", Pattern: `^\+?0*[1-9][0-9]*$`, check: integerChecker(signPositive),
			Form: "xsd:positiveInteger, such as 42: one or more, any number of digits, kept exactly."},
		{Name: "nonPositiveInteger", Pattern: `^(?:-[0-9]+|\+?0+)$`, check: integerChecker(signNonPositive),
			Form: "xsd:nonPositiveInteger, such as -42: zero or less, any number of digits, kept exactly."},
		{Name: "negativeInteger", Pattern: `^-0*[1-9][0-9]*$`, check: integerChecker(signNegative),
			Form: "xsd:negativeInteger, such as -42: minus one or less, any number of digits, kept exactly."},
	} {
		xsdTypes[t.Name] = t
	}
}

// LookupXSDType returns the XSD built-in a string field can carry exactly, by local name.
func LookupXSDType(name string) (*XSDType, bool) {
	t, ok := xsdTypes[name]
	return t, ok
}

// FieldXSDType returns the XSD built-in that fd's xsd_type option names when fd is a string
// field (single or repeated) or a google.protobuf.StringValue keeping a lexical form, as
// toolschema needs it to describe the field. It reports false for every other field.
func FieldXSDType(fd protoreflect.FieldDescriptor) (*XSDType, bool) {
	name := fieldOption(fd).GetXsdType()
	if name == "" || fd.IsMap() {
		return nil, false
	}
	switch {
	case fd.Kind() == protoreflect.StringKind:
	case fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() == "google.protobuf.StringValue":
	default:
		return nil, false
	}
	return LookupXSDType(name)
}

// NilOf returns the proto name of the field whose xsi:nil fd carries (its nil_of option), or ""
// when fd is no nil field, as toolschema needs it to describe the field.
func NilOf(fd protoreflect.FieldDescriptor) protoreflect.Name {
	return protoreflect.Name(fieldOption(fd).GetNilOf())
}

// ---- scanners ----

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digits2 reads two digits at s[i:] as a number, or -1.
func digits2(s string, i int) int {
	if i+2 > len(s) || !isDigit(s[i]) || !isDigit(s[i+1]) {
		return -1
	}
	return int(s[i]-'0')*10 + int(s[i+1]-'0')
}

// scanYear reads an XSD year at s[i:]: an optional minus, then four digits, or more than four
// without a leading zero. It returns the index after it and the digits.
func scanYear(s string, i int) (next int, digits string, ok bool) {
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	n := i - start
	if n < 4 || (s[start] == '0' && n != 4) {
		return 0, "", false
	}
	return i, s[start:i], true
}

// leapYear reports whether the year whose decimal digits (four or more) are given is a leap
// year of the proleptic Gregorian calendar, as XSD 1.1 counts them (year 0000 is one).
func leapYear(digits string) bool {
	n := len(digits)
	last := int(digits[n-2]-'0')*10 + int(digits[n-1]-'0')
	if last != 0 {
		return last%4 == 0
	}
	century := int(digits[n-4]-'0')*10 + int(digits[n-3]-'0')
	return century%4 == 0
}

// daysIn is the number of days of a month; February has 29 in leap years.
func daysIn(month int, leap bool) int {
	switch month {
	case 2:
		if leap {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// scanMonth reads a two-digit month 01 to 12.
func scanMonth(s string, i int) (int, bool) {
	m := digits2(s, i)
	return m, m >= 1 && m <= 12
}

// scanDate reads year-month-day at s[i:], the day one that exists in that month.
func scanDate(s string, i int) (int, bool) {
	i, year, ok := scanYear(s, i)
	if !ok || i >= len(s) || s[i] != '-' {
		return 0, false
	}
	month, ok := scanMonth(s, i+1)
	if !ok || i+3 >= len(s) || s[i+3] != '-' {
		return 0, false
	}
	day := digits2(s, i+4)
	if day < 1 || day > daysIn(month, leapYear(year)) {
		return 0, false
	}
	return i + 6, true
}

// scanTime reads hh:mm:ss with optional fractional seconds; 24:00:00 only with a zero fraction.
func scanTime(s string, i int) (int, bool) {
	h, m, sec := digits2(s, i), digits2(s, i+3), digits2(s, i+6)
	if h < 0 || m < 0 || sec < 0 || s[i+2] != ':' || s[i+5] != ':' {
		return 0, false
	}
	i += 8
	zeroFrac := true
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && isDigit(s[i]) {
			if s[i] != '0' {
				zeroFrac = false
			}
			i++
		}
		if i == start {
			return 0, false
		}
	}
	switch {
	case h == 24:
		return i, m == 0 && sec == 0 && zeroFrac
	case h > 23 || m > 59 || sec > 59:
		return 0, false
	}
	return i, true
}

// validZone reports whether s[i:] is empty (when the zone is optional), Z, or an offset
// within ±14:00.
func validZone(s string, i int, required bool) bool {
	switch rest := s[i:]; {
	case rest == "":
		return !required
	case rest == "Z":
		return true
	case len(rest) != 6 || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':':
		return false
	}
	h, m := digits2(s, i+1), digits2(s, i+4)
	return h >= 0 && m >= 0 && (h <= 13 && m <= 59 || h == 14 && m == 0)
}

func validDateTime(zoneRequired bool) func(string) bool {
	return func(s string) bool {
		i, ok := scanDate(s, 0)
		if !ok || i >= len(s) || s[i] != 'T' || len(s) < i+9 {
			return false
		}
		i, ok = scanTime(s, i+1)
		return ok && validZone(s, i, zoneRequired)
	}
}

func validDate(s string) bool {
	i, ok := scanDate(s, 0)
	return ok && validZone(s, i, false)
}

func validTime(s string) bool {
	if len(s) < 8 {
		return false
	}
	i, ok := scanTime(s, 0)
	return ok && validZone(s, i, false)
}

func validGYear(s string) bool {
	i, _, ok := scanYear(s, 0)
	return ok && validZone(s, i, false)
}

func validGYearMonth(s string) bool {
	i, _, ok := scanYear(s, 0)
	if !ok || i >= len(s) || s[i] != '-' {
		return false
	}
	_, ok = scanMonth(s, i+1)
	return ok && validZone(s, i+3, false)
}

func validGMonth(s string) bool {
	if len(s) < 4 || s[0] != '-' || s[1] != '-' {
		return false
	}
	_, ok := scanMonth(s, 2)
	return ok && validZone(s, 4, false)
}

func validGMonthDay(s string) bool {
	if len(s) < 7 || s[0] != '-' || s[1] != '-' || s[4] != '-' {
		return false
	}
	month, ok := scanMonth(s, 2)
	day := digits2(s, 5)
	return ok && day >= 1 && day <= daysIn(month, true) && validZone(s, 7, false)
}

func validGDay(s string) bool {
	if len(s) < 5 || s[0] != '-' || s[1] != '-' || s[2] != '-' {
		return false
	}
	day := digits2(s, 3)
	return day >= 1 && day <= 31 && validZone(s, 5, false)
}

// durationChecker checks XSD durations: an optional minus, P, then numbers each followed by
// its designator in the order Y M D, and after a T in the order H M S, at least one number in
// all and one after a T, a fraction only on seconds. yearMonth and dayTime allow those parts.
func durationChecker(yearMonth, dayTime bool) func(string) bool {
	return func(s string) bool {
		i := 0
		if i < len(s) && s[i] == '-' {
			i++
		}
		if i >= len(s) || s[i] != 'P' {
			return false
		}
		i++
		const dateUnits, timeUnits = "YMD", "HMS"
		units, next := dateUnits, 0 // next: the index in units of the first designator allowed
		inTime, any, anyTime := false, false, false
		for i < len(s) {
			if s[i] == 'T' {
				if inTime || !dayTime {
					return false
				}
				inTime, units, next = true, timeUnits, 0
				i++
				continue
			}
			start := i
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			if i == start {
				return false
			}
			frac := false
			if i < len(s) && s[i] == '.' {
				i++
				fs := i
				for i < len(s) && isDigit(s[i]) {
					i++
				}
				if i == fs {
					return false
				}
				frac = true
			}
			if i >= len(s) {
				return false
			}
			u := -1
			for k := next; k < len(units); k++ {
				if units[k] == s[i] {
					u = k
					break
				}
			}
			switch {
			case u < 0, frac && (!inTime || units[u] != 'S'):
				return false
			case !inTime && u < 2 && !yearMonth, !inTime && u == 2 && !dayTime:
				return false
			}
			next = u + 1
			any = true
			anyTime = anyTime || inTime
			i++
		}
		return any && (!inTime || anyTime)
	}
}

func validDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	n, dot := 0, false
	for ; i < len(s); i++ {
		switch {
		case isDigit(s[i]):
			n++
		case s[i] == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return n > 0
}

// The signs an integer type allows, as XSD derives its integer types by bounds.
const (
	signAny = iota
	signNonNegative
	signPositive
	signNonPositive
	signNegative
)

func integerChecker(sign int) func(string) bool {
	return func(s string) bool {
		i := 0
		var signChar byte
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			signChar = s[i]
			i++
		}
		if i == len(s) {
			return false
		}
		zero := true
		for ; i < len(s); i++ {
			if !isDigit(s[i]) {
				return false
			}
			if s[i] != '0' {
				zero = false
			}
		}
		negative := signChar == '-' && !zero
		switch sign {
		case signNonNegative:
			return !negative
		case signPositive:
			return signChar != '-' && !zero
		case signNonPositive:
			return zero || negative
		case signNegative:
			return negative
		}
		return true
	}
}
