#!/usr/bin/env bash
# vendor.sh — copy the GraphiQL explorer's browser bundles from pinned npm
# packages into assets/, with their licences and a VERSIONS manifest.
#
# Usage:
#   web/explorer/vendor.sh                # reproduce assets/ from package-lock.json (npm ci)
#   web/explorer/vendor.sh --update-lock  # re-resolve package.json, rewrite package-lock.json, then vendor
#
# The exact versions are pinned in package.json (no ranges) and the whole tree,
# with integrity hashes, in package-lock.json; `npm ci` installs exactly that, so
# running this twice gives byte-identical files. Nothing is built or transformed:
# the files copied are the ones the packages publish. Needs node, npm and
# sha256sum, and the npm registry; nothing else from the network.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export LC_ALL=C

update_lock=0
case "${1:-}" in
  "") ;;
  --update-lock) update_lock=1 ;;
  -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) echo "usage: $0 [--update-lock]" >&2; exit 2 ;;
esac

for tool in node npm sha256sum; do
  command -v "$tool" >/dev/null || { echo "vendor.sh: $tool is required" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Install into a scratch project so the repository never gets a node_modules.
cp "$here/package.json" "$tmp/package.json"
npm_flags=(--ignore-scripts --no-audit --no-fund --omit-lockfile-registry-resolved --loglevel=warn)
if [[ $update_lock == 1 ]]; then
  (cd "$tmp" && npm install "${npm_flags[@]}")
  cp "$tmp/package-lock.json" "$here/package-lock.json"
else
  [[ -f "$here/package-lock.json" ]] || { echo "vendor.sh: no package-lock.json; run with --update-lock" >&2; exit 1; }
  cp "$here/package-lock.json" "$tmp/package-lock.json"
  (cd "$tmp" && npm ci "${npm_flags[@]}")
fi

nm="$tmp/node_modules"
out="$tmp/assets"
mkdir -p "$out/licenses"

# The installed versions must be exactly the pins in package.json.
node - "$tmp" <<'JS'
const fs = require('fs'), path = require('path');
const dir = process.argv[2];
const want = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'))).dependencies;
for (const [name, version] of Object.entries(want)) {
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`${name}: pin an exact version, not ${version}`);
  const got = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', name, 'package.json'))).version;
  if (got !== version) throw new Error(`${name}: installed ${got}, pinned ${version}`);
}
JS

version_of() { node -p "require('$nm/$1/package.json').version"; }

# asset name in assets/  <-  package and path inside it
files=(
  "graphiql.min.js graphiql graphiql.min.js"
  "graphiql.min.css graphiql graphiql.min.css"
  "react.production.min.js react umd/react.production.min.js"
  "react-dom.production.min.js react-dom umd/react-dom.production.min.js"
)
provenance=()
for entry in "${files[@]}"; do
  read -r dest pkg src <<<"$entry"
  cp "$nm/$pkg/$src" "$out/$dest"
  provenance+=("$dest <- $pkg@$(version_of "$pkg")/$src")
done

# Licences: the pinned packages and every package in their runtime dependency
# tree (graphiql.min.js bundles its dependencies, react-dom's UMD bundles
# scheduler). Type-only packages (@types/*) ship no code and are left out.
# Each file is the package's own licence file, verbatim; a package that ships
# none gets a generated note quoting the licence its package.json declares.
node - "$tmp" <<'JS' >"$tmp/licenses.txt"
const fs = require('fs'), path = require('path');
const root = process.argv[2], out = path.join(root, 'assets', 'licenses');
const roots = Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'package.json'))).dependencies);
const readPkg = (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'package.json')));
function resolve(from, name) { // node's lookup: nearest node_modules upwards
  for (let d = from; ; d = path.dirname(d)) {
    const c = path.join(d, 'node_modules', name);
    if (fs.existsSync(path.join(c, 'package.json'))) return c;
    if (d === root || path.dirname(d) === d) return null;
  }
}
const seen = new Map(); // name@version -> dir
(function walk(dirs) {
  for (const dir of dirs) {
    const p = readPkg(dir), key = `${p.name}@${p.version}`;
    if (seen.has(key) || p.name.startsWith('@types/')) continue;
    seen.set(key, dir);
    const deps = Object.keys({ ...p.dependencies, ...p.optionalDependencies }).sort();
    walk(deps.map((n) => resolve(dir, n)).filter(Boolean));
  }
})(roots.map((n) => path.join(root, 'node_modules', n)));

const byName = new Map();
for (const key of seen.keys()) { const n = key.slice(0, key.lastIndexOf('@')); byName.set(n, (byName.get(n) || 0) + 1); }
const lines = [];
for (const key of [...seen.keys()].sort()) {
  const dir = seen.get(key), p = readPkg(dir);
  const declared = typeof p.license === 'string' ? p.license
    : (p.license && p.license.type) || (Array.isArray(p.licenses) ? p.licenses.map((l) => l.type || l).join(' OR ') : 'UNKNOWN');
  // "@scope/name" -> "@scope__name"; add the version only if two versions are present.
  let base = p.name.replace('/', '__');
  if (byName.get(p.name) > 1) base += '@' + p.version;
  const file = `${base}.LICENSE`;
  const candidates = fs.readdirSync(dir).filter((f) => /^(licen[cs]e|copying)([.-].*)?$/i.test(f)).sort();
  if (candidates.length > 0) {
    fs.copyFileSync(path.join(dir, candidates[0]), path.join(out, file));
  } else {
    const repo = p.repository ? (typeof p.repository === 'string' ? p.repository : p.repository.url) : 'n/a';
    const author = p.author ? (typeof p.author === 'string' ? p.author : p.author.name) : 'n/a';
    fs.writeFileSync(path.join(out, file),
      `${key} publishes no licence file in its npm package.\n` +
      `Its package.json declares the licence: ${declared}\n` +
      `Author: ${author}\nRepository: ${repo}\nHomepage: ${p.homepage || 'n/a'}\n` +
      `(Generated by web/explorer/vendor.sh.)\n`);
  }
  lines.push(`${key} ${declared} licenses/${file}`);
}
process.stdout.write(lines.join('\n') + '\n');
JS

{
  echo "# Generated by web/explorer/vendor.sh from package.json + package-lock.json. Do not edit."
  echo "#"
  echo "# Pinned packages (name@version licence npm-integrity):"
  for pkg in $(node -p "Object.keys(require('$tmp/package.json').dependencies).sort().join(' ')"); do
    node -p "const p=require('$nm/$pkg/package.json'), l=require('$tmp/package-lock.json').packages['node_modules/$pkg']; [p.name+'@'+p.version, p.license, l.integrity].join(' ')"
  done
  echo "#"
  echo "# Copied files (assets path <- package@version/path in the package):"
  printf '%s\n' "${provenance[@]}"
  echo "#"
  echo "# Licences of the runtime dependency tree (name@version licence file):"
  cat "$tmp/licenses.txt"
  echo "#"
  echo "# sha256 of every file in assets/ but this one (check: cd assets && grep -E '^[0-9a-f]{64}  ' VERSIONS | sha256sum -c):"
  (cd "$out" && find . -type f ! -name VERSIONS | sed 's|^\./||' | sort | xargs sha256sum)
} >"$out/VERSIONS"

rm -rf "$here/assets"
cp -R "$out" "$here/assets"
chmod -R u+rwX,go+rX,go-w "$here/assets"
echo "vendor.sh: wrote $(find "$here/assets" -type f | wc -l) files, $(du -sh "$here/assets" | cut -f1) to $here/assets"
