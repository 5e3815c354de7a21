// Command ostal builds, boot-tests and deploys immutable VM images.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ostal/ostal/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx)
	stop()
	os.Exit(code)
}
