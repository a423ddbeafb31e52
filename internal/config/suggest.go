package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// unknownKey says that key is not one of struct t's, suggesting the
// nearest known key when one is close enough to be a typo, and listing
// them all otherwise.
func unknownKey(key string, t reflect.Type) string {
	known := make([]string, 0, t.NumField())
	for k := range yamlFields(t) {
		known = append(known, k)
	}
	slices.Sort(known)
	if near := nearest(key, known); near != "" {
		return fmt.Sprintf("unknown key %q; did you mean %q?", key, near)
	}
	return fmt.Sprintf("unknown key %q; the keys here are %s", key, strings.Join(known, ", "))
}

// nearest returns the candidate closest to s by edit distance (a swap of
// two neighbours counting as one edit), if it is within a third of the
// length of s (at least one edit), else "".
func nearest(s string, candidates []string) string {
	best, bestD := "", max(1, len(s)/3)+1
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of adjacent bytes.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
