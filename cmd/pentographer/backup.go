package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pentographer/pentographer/store"
)

// cmdBackup copies the SQLite database to a new file. It does not migrate: a
// backup leaves the database as it finds it.
func cmdBackup(inv *invocation) func(context.Context, Config) error {
	return func(ctx context.Context, cfg Config) error {
		path := inv.positional[0]
		st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{})
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.Backup(ctx, path); err != nil {
			return err
		}
		size := ""
		if fi, err := os.Stat(path); err == nil {
			size = fmt.Sprintf(" (%d bytes)", fi.Size())
		}
		fmt.Fprintf(inv.stdout, "wrote a consistent copy of the database to %s%s\n", path, size)
		return nil
	}
}
