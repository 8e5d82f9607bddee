//go:build ignore

// derive.go rebuilds gm-care-homes.csv from Trafford Data Lab's
// gm_care_homes.csv (see README.md for the rules and the attribution):
//
//	go run ./configs/demo-world/derive.go SOURCE.csv > configs/demo-world/gm-care-homes.csv
package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
)

// tenDigits is a UK national number whose leading 0 the source dropped
// (it was read as a number); anything else there (9 digits, 1617777e3)
// lost digits on the way and cannot be repaired.
var tenDigits = regexp.MustCompile(`^[1-9][0-9]{9}$`)

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	na := func(s string) string {
		if s = strings.TrimSpace(s); s == "NA" {
			return ""
		}
		return s
	}
	var order []string
	homes := map[string][]string{}
	header := []string{"name", "type", "address", "postcode", "telephone", "website", "area_name", "area_code", "lon", "lat"}
	for _, r := range rows[1:] {
		rec := make([]string, len(header))
		for i, h := range header {
			rec[i] = na(r[col[h]])
		}
		if tel := rec[4]; tenDigits.MatchString(tel) {
			rec[4] = "0" + tel
		} else {
			rec[4] = ""
		}
		key := strings.ToLower(rec[0]) + "|" + strings.ToUpper(rec[3])
		prev, dup := homes[key]
		if !dup {
			order = append(order, key)
			homes[key] = rec
			continue
		}
		// The same home listed twice (one row per registration): one home
		// offering the union of the types; the first contact details win.
		types := strings.Split(prev[1], "|")
		for _, t := range strings.Split(rec[1], "|") {
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
		slices.Sort(types)
		prev[1] = strings.Join(types, "|")
		for _, i := range []int{4, 5} {
			if prev[i] == "" {
				prev[i] = rec[i]
			}
		}
	}
	w := csv.NewWriter(os.Stdout)
	_ = w.Write(header)
	for _, k := range order {
		_ = w.Write(homes[k])
	}
	w.Flush()
	if err := w.Error(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
