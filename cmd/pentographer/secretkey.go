package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store"
)

func cmdGenerateSecretKey(inv *invocation) func(context.Context, Config) error {
	file := inv.stringFlag("file", "PATH", "", "write the key to this new file (mode 0600) instead of printing it", false)
	return func(context.Context, Config) error {
		key, err := auth.GenerateSecretKey()
		if err != nil {
			return err
		}
		keys, err := auth.ParseSecretKeys(key)
		if err != nil {
			return err
		}
		if *file == "" {
			fmt.Fprintln(inv.stdout, key)
			return nil
		}
		f, err := os.OpenFile(*file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists already; a new key never overwrites a file", *file)
		}
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintln(f, key); err != nil {
			_ = f.Close()
			_ = os.Remove(*file)
			return err
		}
		if err := f.Close(); err != nil {
			_ = os.Remove(*file)
			return err
		}
		fmt.Fprintf(inv.stdout, "wrote a new secret key (id %s) to %s\n", keys.PrimaryID(), *file)
		return nil
	}
}

func cmdReencrypt(inv *invocation) func(context.Context, Config) error {
	return func(ctx context.Context, cfg Config) error {
		return operator(ctx, inv, cfg, func(ctx context.Context, _ *store.Store, svc *auth.Service) error {
			n, keyID, err := svc.ReencryptSigningKeys(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(inv.stdout, "re-encrypted %d signing keys; every signing key is now encrypted with secret key %s\n", n, keyID)
			return nil
		})
	}
}
