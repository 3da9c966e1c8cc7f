#!/usr/bin/env bash
# Refreshes the GraphiQL page's third-party files from the npm registry (run by
# hand when upgrading; the build never fetches anything). GraphiQL 3 is the
# last line with a UMD bundle; React 18 the last with UMD builds.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent graphiql@3.9.0 react@18.3.1 react-dom@18.3.1 >/dev/null)
for package in graphiql-3.9.0 react-18.3.1 react-dom-18.3.1; do
  mkdir -p "$work/$package" && tar xzf "$work/$package.tgz" -C "$work/$package"
done
cp "$work/graphiql-3.9.0/package/graphiql.min.js" "$work/graphiql-3.9.0/package/graphiql.min.css" .
cp "$work/react-18.3.1/package/umd/react.production.min.js" .
cp "$work/react-dom-18.3.1/package/umd/react-dom.production.min.js" .
# No source maps are shipped: drop the references to them.
sed -i 's|//# sourceMappingURL=.*||' graphiql.min.js graphiql.min.css
{
  echo "# Third-party licences of the embedded GraphiQL page"
  echo
  for package in graphiql-3.9.0 react-18.3.1 react-dom-18.3.1; do
    echo "## ${package%-*} ${package##*-}"; echo; echo '```'
    cat "$work/$package/package/LICENSE"; echo '```'; echo
  done
} > LICENSES.md
sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js
