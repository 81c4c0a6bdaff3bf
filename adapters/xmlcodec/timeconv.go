package xmlcodec

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrInexact marks a value that is valid for its XSD type but that the field's well-known type
// cannot hold as sent: a dateTime with an offset other than UTC or with none, a date, a duration
// of years or months, more fractional digits than nanoseconds. Converting it anyway would
// change it on its way through, so it is an error saying which string mapping keeps it.
var ErrInexact = errors.New("cannot be held exactly")

// The scanners of the types ParseDateTime and ParseDuration read, made once.
var (
	checkDateTime = validDateTime(false)
	checkDuration = durationChecker(true, true)
)

// maxDurationSeconds is the range of google.protobuf.Duration, about 10,000 years.
const maxDurationSeconds = 315_576_000_000

// ParseDateTime parses an xsd:dateTime (whitespace around it ignored) into the seconds and
// nanoseconds of a google.protobuf.Timestamp. Only a value in UTC (Z, +00:00 or -00:00) with at
// most nine significant fractional digits, in years 0001 to 9999, is held exactly by a
// Timestamp; any other valid dateTime is an error wrapping ErrInexact, since converting it
// would drop its offset, invent one it never had, or round it.
func ParseDateTime(text string) (int64, int32, error) {
	t := trimXMLSpace(text)
	if !checkDateTime(t) {
		if validDate(t) {
			return 0, 0, fmt.Errorf("%q is an xsd:date, a day rather than an instant, and %w by a Timestamp", t, ErrInexact)
		}
		return 0, 0, fmt.Errorf("%q is not an xsd:dateTime", t)
	}
	if t[0] == '-' || t[4] != '-' { // a year before 0001 or after 9999
		return 0, 0, fmt.Errorf("%q is outside the years 0001 to 9999 and %w by a Timestamp", t, ErrInexact)
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range t[i : i+n] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	hour, minute, sec := num(11, 2), num(14, 2), num(17, 2)
	i, nanos := 19, 0
	if i < len(t) && t[i] == '.' {
		i++
		for k := 0; i < len(t) && isDigit(t[i]); i, k = i+1, k+1 {
			switch {
			case k < 9:
				nanos = nanos*10 + int(t[i]-'0')
			case t[i] != '0':
				return 0, 0, fmt.Errorf("%q has more than nine fractional digits and %w by a Timestamp", t, ErrInexact)
			}
		}
		for k := i - 20; k < 9; k++ { // scale to nanoseconds when fewer than nine digits were given
			nanos *= 10
		}
	}
	switch zone := t[i:]; zone {
	case "Z", "+00:00", "-00:00":
	case "":
		return 0, 0, fmt.Errorf("%q has no time zone and %w by a Timestamp, which would make it UTC", t, ErrInexact)
	default:
		return 0, 0, fmt.Errorf("%q has the offset %s, which %w by a Timestamp (it holds UTC only)", t, zone, ErrInexact)
	}
	if year == 0 {
		return 0, 0, fmt.Errorf("%q is outside the years 0001 to 9999 and %w by a Timestamp", t, ErrInexact)
	}
	// hour 24 (24:00:00, the end of the day) normalises to the next day's midnight, the same
	// instant in XSD.
	at := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, time.UTC)
	if at.Year() > 9999 {
		return 0, 0, fmt.Errorf("%q is outside the years 0001 to 9999 and %w by a Timestamp", t, ErrInexact)
	}
	return at.Unix(), int32(nanos), nil
}

// ParseDuration parses an xsd:duration (whitespace around it ignored) into the seconds and
// nanoseconds of a google.protobuf.Duration. Years and months have no fixed length in seconds,
// so a value with a non-zero number of either is an error wrapping ErrInexact, as are more than
// nine significant fractional digits and values beyond a Duration's range.
func ParseDuration(text string) (int64, int32, error) {
	t := trimXMLSpace(text)
	if !checkDuration(t) {
		return 0, 0, fmt.Errorf("%q is not an xsd:duration", t)
	}
	neg := t[0] == '-'
	s := t[1:]
	if neg {
		s = t[2:]
	}
	var secs, nanos int64
	inTime := false
	tooLong := fmt.Errorf("%q is longer than a protobuf Duration holds (about 10,000 years) and %w", t, ErrInexact)
	for s != "" {
		if s[0] == 'T' {
			inTime, s = true, s[1:]
			continue
		}
		i := 0
		for isDigit(s[i]) {
			i++
		}
		whole := s[:i]
		frac := ""
		if s[i] == '.' {
			j := i + 1
			for isDigit(s[j]) {
				j++
			}
			frac, i = s[i+1:j], j
		}
		unit := s[i]
		s = s[i+1:]
		n, err := strconv.ParseInt(whole, 10, 64)
		if err != nil {
			return 0, 0, tooLong
		}
		var scale int64
		switch {
		case !inTime && (unit == 'Y' || unit == 'M'):
			if n != 0 {
				return 0, 0, fmt.Errorf("%q counts years or months, which have no fixed length in seconds, and %w by a Duration", t, ErrInexact)
			}
			continue
		case unit == 'D':
			scale = 86400
		case unit == 'H':
			scale = 3600
		case unit == 'M':
			scale = 60
		default: // seconds
			scale = 1
			for k := range len(frac) {
				switch {
				case k < 9:
					nanos = nanos*10 + int64(frac[k]-'0')
				case frac[k] != '0':
					return 0, 0, fmt.Errorf("%q has more than nine fractional digits of a second and %w by a Duration", t, ErrInexact)
				}
			}
			for k := len(frac); k < 9; k++ {
				nanos *= 10
			}
		}
		if n > maxDurationSeconds/scale {
			return 0, 0, tooLong
		}
		secs += n * scale
		if secs > maxDurationSeconds {
			return 0, 0, tooLong
		}
	}
	if neg {
		secs, nanos = -secs, -nanos
	}
	return secs, int32(nanos), nil
}
