// Command e2e-ratios reads BenchmarkEndToEnd output (from interleaved rounds, each round one
// pass over all rows) on stdin and prints, per op and bridge, the bridge's own CPU per call
// (its cpu-ns/op less the direct row's of the same round) and its ratio to the hand-written
// bridge's of the same round: the median over the rounds, with the smallest and largest.
//
//	go test ./bench/e2e -run '^$' -bench BenchmarkEndToEnd -benchmem -count 1 > round1.txt ...
//	cat round*.txt | go run ./bench/e2e/cmd/e2e-ratios
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
)

var row = regexp.MustCompile(`^BenchmarkEndToEnd/op=(\w+)/bridge=([a-z-]+?)(?:-\d+)?\s.*?\s([\d.]+) cpu-ns/op`)

func main() {
	type key struct{ op, bridge string }
	var rounds []map[key]float64
	s := bufio.NewScanner(os.Stdin)
	for s.Scan() {
		m := row.FindStringSubmatch(s.Text())
		if m == nil {
			continue
		}
		k := key{m[1], m[2]}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if len(rounds) == 0 {
			rounds = append(rounds, map[key]float64{})
		}
		if _, seen := rounds[len(rounds)-1][k]; seen { // a row again: the next round
			rounds = append(rounds, map[key]float64{})
		}
		rounds[len(rounds)-1][k] = v
	}
	if len(rounds) == 0 {
		fmt.Fprintln(os.Stderr, "e2e-ratios: no BenchmarkEndToEnd rows with cpu-ns/op on stdin")
		os.Exit(1)
	}
	stats := func(format string, xs []float64) string {
		slices.Sort(xs)
		med := xs[len(xs)/2]
		if len(xs)%2 == 0 {
			med = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
		}
		return fmt.Sprintf(format+" ["+format+", "+format+"]", med, xs[0], xs[len(xs)-1])
	}
	fmt.Printf("%d rounds; own = row - direct (µs/call), ratio = own / handwritten own; median [min, max] over rounds\n", len(rounds))
	fmt.Printf("%-5s %-12s %-26s %s\n", "op", "bridge", "own µs/call", "ratio")
	for _, op := range []string{"add", "list"} {
		for _, bridge := range []string{"direct", "handwritten", "rest", "connect", "grpc", "rest-audit"} {
			var own, ratio []float64
			for _, r := range rounds {
				v, ok1 := r[key{op, bridge}]
				d, ok2 := r[key{op, "direct"}]
				h, ok3 := r[key{op, "handwritten"}]
				if !ok1 || !ok2 {
					continue
				}
				if bridge == "direct" {
					own = append(own, v/1e3)
					continue
				}
				own = append(own, (v-d)/1e3)
				if ok3 && h > d {
					ratio = append(ratio, (v-d)/(h-d))
				}
			}
			if len(own) == 0 {
				continue
			}
			line := fmt.Sprintf("%-5s %-12s %-26s", op, bridge, stats("%6.1f", own))
			if len(ratio) > 0 && bridge != "handwritten" {
				line += " " + stats("%4.2f", ratio)
			}
			fmt.Println(line)
		}
	}
}
