package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store/storetest"
)

// newKey generates a secret key through the command and returns it with its id.
func newKey(t *testing.T) (key, id string) {
	t.Helper()
	code, out, errOut := runCmd(t, nil, "secret-key", "generate")
	if code != 0 || strings.Count(out, "\n") != 1 || errOut != "" {
		t.Fatalf("exit %d: %q %q", code, out, errOut)
	}
	key = strings.TrimSpace(out)
	ks, err := auth.ParseSecretKeys(key)
	if err != nil {
		t.Fatalf("the printed key does not parse: %v", err)
	}
	return key, ks.PrimaryID()
}

func TestSecretKeyGenerate(t *testing.T) {
	a, idA := newKey(t)
	b, idB := newKey(t)
	if a == b || idA == idB {
		t.Fatal("two generated keys are equal")
	}
	path := filepath.Join(t.TempDir(), "secret.key")
	code, out, errOut := runCmd(t, nil, "secret-key", "generate", "--file", path)
	if code != 0 || strings.Contains(out, "=") {
		t.Fatalf("exit %d: %q %q", code, out, errOut)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the key file: %v, %v", fi, err)
	}
	text, _ := os.ReadFile(path)
	ks, err := auth.ParseSecretKeys(string(text))
	if err != nil || !strings.Contains(out, ks.PrimaryID()) || !strings.HasSuffix(string(text), "\n") {
		t.Fatalf("the file holds %d bytes (%v); output %q", len(text), err, out)
	}
	if code, _, errOut := runCmd(t, nil, "secret-key", "generate", "--file", path); code != 1 || !strings.Contains(errOut, "exists already") {
		t.Fatalf("over an existing file: exit %d: %s", code, errOut)
	}
	if again, _ := os.ReadFile(path); string(again) != string(text) {
		t.Fatal("the existing key file was changed")
	}
}

func TestSecretKeySettings(t *testing.T) {
	key, id := newKey(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := "sqlite:" + filepath.Join(dir, "p.db")
	for name, tc := range map[string]struct {
		env  map[string]string
		code int
		want string
	}{
		"the variable":          {map[string]string{"PTG_SECRET_KEY": key}, 0, "new signing key"},
		"a file":                {map[string]string{"PTG_SECRET_KEY_FILE": file}, 0, "new signing key"},
		"both":                  {map[string]string{"PTG_SECRET_KEY": key, "PTG_SECRET_KEY_FILE": file}, 1, "both set"},
		"a key that is no key":  {map[string]string{"PTG_SECRET_KEY": "hunter2"}, 1, "PTG_SECRET_KEY: secret key 1 of 1 is not base64"},
		"a short key":           {map[string]string{"PTG_SECRET_KEY": key[:20]}, 1, "15 bytes long"},
		"a missing file":        {map[string]string{"PTG_SECRET_KEY_FILE": file + ".nope"}, 1, "no such file"},
		"a file that is no key": {map[string]string{"PTG_SECRET_KEY_FILE": junk}, 1, "PTG_SECRET_KEY_FILE \"" + junk + "\": secret key 1 of 3 is not base64"},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			tc.env["PTG_DATABASE_URL"] = db
			code, out, errOut := runCmd(t, tc.env, "signing-keys", "rotate")
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("exit %d: %s %s", code, out, errOut)
			}
			if strings.Contains(errOut, key) || strings.Contains(errOut, "hunter2") {
				t.Fatalf("a key was shown: %s", errOut)
			}
			if code == 0 {
				if k := listSigningKeys(t, db)[0]; k.SecretKeyID != id {
					t.Fatalf("the new key is encrypted with %q, want %s", k.SecretKeyID, id)
				}
			}
		})
	}

	t.Run("a_file_others_may_read_is_used_with_a_warning", func(t *testing.T) {
		open := filepath.Join(dir, "open.key")
		if err := os.WriteFile(open, []byte(key), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(open, 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := runCmd(t, map[string]string{"PTG_DATABASE_URL": db, "PTG_SECRET_KEY_FILE": open, "PTG_LOG_FORMAT": "json"}, "signing-keys", "rotate")
		if code != 0 || !strings.Contains(errOut, "readable by every user") || !strings.Contains(errOut, `"mode":"0644"`) || strings.Contains(errOut, key) {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
}

// TestServeAndTheSecretKey starts the server over encrypted signing keys: with
// the right key it serves, with a wrong one or none it refuses with the kid
// and the secret key's id; without any key on a fresh store it warns.
func TestServeAndTheSecretKey(t *testing.T) {
	k1, id1 := newKey(t)
	k2, _ := newKey(t)
	dir := t.TempDir()
	env := func(extra ...string) map[string]string {
		e := map[string]string{"PTG_DATABASE_URL": "sqlite:" + dir + "/s.db", "PTG_LISTEN": "127.0.0.1:0", "PTG_LOG_FORMAT": "json"}
		for i := 0; i < len(extra); i += 2 {
			e[extra[i]] = extra[i+1]
		}
		return e
	}

	s := startServe(t, env("PTG_DATABASE_URL", "sqlite:"+dir+"/plain.db"))
	s.logLine("signing keys are stored unencrypted in the database: whoever reads it, or a backup of it, can sign access tokens; " +
		"set PTG_SECRET_KEY or PTG_SECRET_KEY_FILE to a secret key (make one with: pentographer secret-key generate)")
	s.logLine("listening")
	waitFor(t, func() string { return apiKeyRE.FindString(s.out.String()) }, "the first start", s.errOut)
	if code := s.stop(); code != 0 {
		t.Fatalf("exit %d: %s", code, s.errOut)
	}

	s = startServe(t, env("PTG_SECRET_KEY", k1))
	if got := s.logLine("signing keys are encrypted at rest")["secret_key_id"]; got != id1 {
		t.Fatalf("logged secret key id %v, want %s", got, id1)
	}
	s.logLine("listening")
	waitFor(t, func() string { return apiKeyRE.FindString(s.out.String()) }, "the first start", s.errOut)
	if code := s.stop(); code != 0 {
		t.Fatalf("exit %d: %s", code, s.errOut)
	}
	if strings.Contains(s.errOut.String(), "unencrypted") {
		t.Fatal("a server with a secret key warns that keys are unencrypted")
	}

	kid := listSigningKeys(t, env()["PTG_DATABASE_URL"])[0].ID
	for name, e := range map[string]map[string]string{"wrong key": env("PTG_SECRET_KEY", k2), "no key": env()} {
		code, out, errOut := runCmd(t, e, "serve")
		if code != 1 || out != "" || !strings.Contains(errOut, "pentographer serve: signing keys: signing key "+kid+" is encrypted with secret key "+id1) {
			t.Fatalf("%s: exit %d: %s", name, code, errOut)
		}
		if strings.Contains(errOut, k1) || strings.Contains(errOut, k2) || strings.Contains(errOut, "listening") {
			t.Fatalf("%s: %s", name, errOut)
		}
	}
}

// TestSigningKeysReencrypt changes the secret key from the command line: the
// new key alone then reads every signing key, the old one alone no longer does.
func TestSigningKeysReencrypt(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			k1, _ := newKey(t)
			k2, id2 := newKey(t)
			db := storetest.URL(t, backend)
			with := func(keys string) map[string]string {
				e := map[string]string{"PTG_DATABASE_URL": db}
				if keys != "" {
					e["PTG_SECRET_KEY"] = keys
				}
				return e
			}
			for range 2 {
				if code, _, errOut := runCmd(t, with(k1), "signing-keys", "rotate"); code != 0 {
					t.Fatalf("rotate: %s", errOut)
				}
			}
			if code, _, errOut := runCmd(t, with(""), "signing-keys", "reencrypt"); code != 1 || !strings.Contains(errOut, "no secret key is configured") {
				t.Fatalf("without a key: exit %d: %s", code, errOut)
			}
			code, out, errOut := runCmd(t, with(k2+","+k1), "signing-keys", "reencrypt")
			if code != 0 || out != "re-encrypted 2 signing keys; every signing key is now encrypted with secret key "+id2+"\n" {
				t.Fatalf("exit %d: %q %s", code, out, errOut)
			}
			for _, r := range listSigningKeys(t, db) {
				if r.SecretKeyID != id2 {
					t.Fatalf("key %s is encrypted with %s", r.ID, r.SecretKeyID)
				}
			}
			if code, _, errOut := runCmd(t, with(k2), "signing-keys", "rotate"); code != 0 {
				t.Fatalf("rotate with the new key: %s", errOut)
			}
			if code, _, errOut := runCmd(t, with(k1), "signing-keys", "rotate"); code != 1 || !strings.Contains(errOut, "refusing to make a signing key") {
				t.Fatalf("rotate with the old key: exit %d: %s", code, errOut)
			}
		})
	}
}
