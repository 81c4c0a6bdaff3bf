package xmlcodec_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// TestParseDateTime: a Timestamp takes a dateTime only where it keeps it, an instant in UTC;
// everything else is refused, ErrInexact marking what a string field would keep.
func TestParseDateTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Time
		inexact bool   // the error wraps ErrInexact
		wantErr string // part of the error; "" for success
	}{
		{in: "2024-05-01T12:30:00Z", want: time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)},
		{in: "2024-05-01T12:30:00+00:00", want: time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)},
		{in: "2024-05-01T12:30:00.000000001-00:00", want: time.Date(2024, 5, 1, 12, 30, 0, 1, time.UTC)},
		{in: "2024-05-01T12:30:00.1234567890000Z", want: time.Date(2024, 5, 1, 12, 30, 0, 123456789, time.UTC)},
		{in: " 2024-12-31T24:00:00Z\n", want: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		{in: "0001-01-01T00:00:00Z", want: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{in: "9999-12-31T23:59:59.999999999Z", want: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{in: "2024-05-01T12:30:00.1234567891Z", inexact: true, wantErr: "more than nine fractional digits"},
		{in: "2024-05-01T12:30:00", inexact: true, wantErr: "has no time zone"},
		{in: "2024-05-01T12:30:00+05:30", inexact: true, wantErr: "has the offset +05:30"},
		{in: "2024-05-01T12:30:00-01:00", inexact: true, wantErr: "has the offset -01:00"},
		{in: "2024-05-01", inexact: true, wantErr: "is an xsd:date"},
		{in: "2024-05-01Z", inexact: true, wantErr: "is an xsd:date"},
		{in: "0000-01-01T00:00:00Z", inexact: true, wantErr: "outside the years 0001 to 9999"},
		{in: "-0001-01-01T00:00:00Z", inexact: true, wantErr: "outside the years 0001 to 9999"},
		{in: "10000-01-01T00:00:00Z", inexact: true, wantErr: "outside the years 0001 to 9999"},
		{in: "9999-12-31T24:00:00Z", inexact: true, wantErr: "outside the years 0001 to 9999"},
		// Offsets that would move the instant out of a Timestamp's range are refused as
		// offsets, before any arithmetic: TestFidelity once saw four surfaces disagree on them.
		{in: "0001-01-01T00:00:00+01:00", inexact: true, wantErr: "has the offset +01:00"},
		{in: "9999-12-31T23:30:00-01:00", inexact: true, wantErr: "has the offset -01:00"},
		{in: "2024-05-01T12:30:00.00000000001Z", inexact: true, wantErr: "more than nine fractional digits"},
		{in: "2024-02-30T00:00:00Z", wantErr: "is not an xsd:dateTime"},
		{in: "2024-05-01T12:30:00+0530", wantErr: "is not an xsd:dateTime"},
		{in: "", wantErr: "is not an xsd:dateTime"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			secs, nanos, err := xmlcodec.ParseDateTime(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, xmlcodec.ErrInexact) != tt.inexact {
					t.Fatalf("got %v, want an error containing %q (inexact %v)", err, tt.wantErr, tt.inexact)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Unix(secs, int64(nanos)).UTC(); !got.Equal(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestParseDuration: a Duration takes an xsd:duration of days and time, exactly.
func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		long    int64 // seconds, for durations beyond time.Duration
		inexact bool
		wantErr string
	}{
		{in: "PT0S"},
		{in: "P1DT2H3M4.5S", want: 26*time.Hour + 3*time.Minute + 4500*time.Millisecond},
		{in: "-PT1.000000001S", want: -(time.Second + 1)},
		{in: "PT0.1000000000S", want: 100 * time.Millisecond},
		{in: "P0Y0M1D", want: 24 * time.Hour},
		{in: "PT36H", want: 36 * time.Hour},
		{in: " P3652500D ", long: 3652500 * 86400},
		{in: "P1Y", inexact: true, wantErr: "counts years or months"},
		{in: "-P1M", inexact: true, wantErr: "counts years or months"},
		{in: "PT0.0000000001S", inexact: true, wantErr: "more than nine fractional digits"},
		{in: "P3652501D", inexact: true, wantErr: "longer than a protobuf Duration holds"},
		{in: "PT315576000001S", inexact: true, wantErr: "longer than a protobuf Duration holds"},
		{in: "PT99999999999999999999S", inexact: true, wantErr: "longer than a protobuf Duration holds"},
		{in: "P1DT", wantErr: "is not an xsd:duration"},
		{in: "PT1M1H", wantErr: "is not an xsd:duration"},
		{in: "P-1D", wantErr: "is not an xsd:duration"},
		{in: "PT1S1S", wantErr: "is not an xsd:duration"},
		{in: "PT5.S", wantErr: "is not an xsd:duration"},
		{in: "P1D1D", wantErr: "is not an xsd:duration"},
		{in: "PT-1S", wantErr: "is not an xsd:duration"},
		{in: "90s", wantErr: "is not an xsd:duration"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			secs, nanos, err := xmlcodec.ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, xmlcodec.ErrInexact) != tt.inexact {
					t.Fatalf("got %v, want an error containing %q (inexact %v)", err, tt.wantErr, tt.inexact)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.long != 0 {
				if secs != tt.long || nanos != 0 {
					t.Errorf("got %ds %dns, want %ds", secs, nanos, tt.long)
				}
				return
			}
			if got := time.Duration(secs)*time.Second + time.Duration(nanos); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
