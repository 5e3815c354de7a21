package main

import (
	"fmt"
	"slices"
)

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// spread is a cell of the table: the median of the runs, then their range
// when there was more than one, so that a reader sees how far to trust
// it: "78.0 s (71.2–80.4)". No sample is "-".
func spread(v []float64, unit string, scale float64, prec int) string {
	if len(v) == 0 {
		return "-"
	}
	f := func(x float64) string { return fmt.Sprintf("%.*f", prec, x/scale) }
	cell := f(median(v)) + " " + unit
	if len(v) > 1 {
		cell += " (" + f(slices.Min(v)) + "–" + f(slices.Max(v)) + ")"
	}
	return cell
}
