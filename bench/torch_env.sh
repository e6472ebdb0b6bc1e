# Sourced by the bench scripts, from the repository root. Debian's python3-torch
# calls whatever libblas.so.3 the system has, by default the slow reference BLAS;
# the PyTorch reference implementation ran on OpenBLAS, and so do these benches:
# Debian's libopenblas0-openmp is downloaded once with apt-get and unpacked into
# bench/.deps (not installed; nothing system-wide changes), and put first on
# LD_LIBRARY_PATH. REFERENCE_BLAS=1 skips that.

# Prints the directory that holds OpenBLAS' libblas.so.3 (empty with REFERENCE_BLAS), fetching it once.
torch_blas_dir() {
  [ -n "${REFERENCE_BLAS:-}" ] && return 0
  local deps="bench/.deps"
  local dir="$deps/root/usr/lib/x86_64-linux-gnu/openblas-openmp"
  if [ ! -f "$dir/libblas.so.3" ]; then
    mkdir -p "$deps"
    (cd "$deps" && apt-get download libopenblas0-openmp >/dev/null 2>&1) || {
      echo "apt-get download libopenblas0-openmp failed (set REFERENCE_BLAS=1 to run PyTorch on the reference BLAS)" >&2
      return 1
    }
    dpkg -x "$deps"/libopenblas0-openmp_*.deb "$deps/root"
  fi
  echo "$PWD/$dir"
}

# /usr/bin/python3 (Debian's, with python3-torch) on that BLAS.
torch_python() {
  local blas
  blas="$(torch_blas_dir)" || return 1
  LD_LIBRARY_PATH="$blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" /usr/bin/python3 "$@"
}
