package main

// backtestFlags are the CLI's -backtest flags.
type backtestFlags struct {
	enabled       *bool
	rule, csv     *string
	from, to, out *string
}
