// Command demo runs sigmawatch end to end on this machine with no AWS
// account (make demo). It prints its progress, the notifications that
// arrived, and writes a chart per alerted series into out/demo/.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	root := flag.String("root", ".", "repository root")
	collect := flag.String("collect", "bin/local/collect/bootstrap", "collect bootstrap")
	alert := flag.String("alert", "bin/local/alert/bootstrap", "alert bootstrap")
	live := flag.Duration("live", demo.DefaultLive, "simulated span that goes through CloudWatch and the collect function")
	keep := flag.Bool("keep", false, "keep Prometheus running after the demo until Ctrl-C")
	flag.Parse()
	abs, err := filepath.Abs(*root)
	if err != nil {
		return err
	}
	started := time.Now()
	opts := demo.Options{
		Out:              os.Stdout,
		Root:             abs,
		WorkDir:          filepath.Join(abs, ".demo"),
		OutDir:           filepath.Join(abs, "out", "demo"),
		CollectBootstrap: filepath.Join(abs, *collect),
		AlertBootstrap:   filepath.Join(abs, *alert),
		Live:             *live,
	}
	if *keep {
		opts.Hold = func(url string) {
			fmt.Printf("\nPrometheus stays up at %s — Ctrl-C to stop everything.\n", url)
			<-ctx.Done()
		}
	}
	// Each run starts from a clean slate: stand-ins' data from a previous run
	// would hold series from another simulated day.
	_ = os.RemoveAll(opts.WorkDir)
	res, err := demo.Run(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Printf("\nDone in %s: %d collect runs, %d alert runs, %d samples collected, %d notifications, %d chart(s).\n",
		time.Since(started).Round(time.Second), res.CollectRuns, res.AlertRuns, res.Samples, len(res.Notifications), len(res.Charts))
	fmt.Println(demo.NextStep)
	return nil
}
