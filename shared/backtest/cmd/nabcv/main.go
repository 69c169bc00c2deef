// Command nabcv sweeps configurations of the online detector
// (shared/detector) over the whole NAB corpus, the healthy-pattern suite
// and the incident series, in-process, and cross-validates the choice of
// configuration leaving one NAB category out at a time.
//
// Sweep (every grid flag takes a comma-separated list; the grid is their
// product; each configuration appends one JSON line to -log):
//
//	go run ./shared/backtest/cmd/nabcv -nab /work/shared/nab -log sweep.jsonl \
//	    -threshold 5,6,7 -shift-limit 0,8,12
//
// Cross-validate everything logged so far and print the report:
//
//	go run ./shared/backtest/cmd/nabcv -nab /work/shared/nab -cv sweep.jsonl
//
// Check the Go port of the scorer against score.py on every configuration
// of the grid (writes NAB results files and runs score.py on the whole
// corpus, the AWS subset and each category; python3 needed):
//
//	go run ./shared/backtest/cmd/nabcv -nab /work/shared/nab -check -out /tmp/nabres [grid flags]
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "nabcv:", err)
		os.Exit(1)
	}
}
