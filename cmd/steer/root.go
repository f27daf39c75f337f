package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// ioStreams carries the standard streams; commands never touch os.Std* directly,
// so tests can run them in-process.
type ioStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

func newIOStreams() *ioStreams {
	return &ioStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
}

// newRootCmd builds the whole command tree. Every subcommand has its own constructor
// (one file per command) and no package-level state.
func newRootCmd(s *ioStreams) *cobra.Command {
	root := &cobra.Command{
		Use:           "steer",
		Short:         "Activation-steering interpretability: models, SAEs, features, experiments",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	root.AddCommand(
		newInfoCmd(s),
		newTokenizeCmd(s),
		newPullCmd(s),
		newGenerateCmd(s),
		newTraceCmd(s),
		newActivationsCmd(s),
		newSAECmd(s),
	)
	return root
}

// run executes the CLI and returns the process exit code. Errors are printed once,
// as "steer: <message>", and never as a panic.
func run(args []string, s *ioStreams) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(s.ErrOut, "steer: internal error: %v\n", r)
			code = 3
		}
	}()
	root := newRootCmd(s)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		var ue *usageError
		fmt.Fprintf(s.ErrOut, "steer: %v\n", err)
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// usageError marks bad flags or arguments (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
