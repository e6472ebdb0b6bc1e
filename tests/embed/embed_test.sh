#!/usr/bin/env bash
# examples/embed built against an installed graphrun only, then run: train_model
# trains Emojifier V1 for 2 epochs through the API, and label_lines (C++) and
# label_lines_c (C) must label sentences as `graphrun predict` does for that run,
# given the run directory or the bundle `graphrun export` makes of it.
# The pkg-config file must build the C program too, and the README's C++ and C
# examples, taken from README.md as it stands.
#
# usage: embed_test.sh SOURCE_DIR BUILD_DIR static|shared GENERATOR [COMPILER_LAUNCHER]
#   static: installs BUILD_DIR's own (static) library;
#   shared: configures and builds the library alone with BUILD_SHARED_LIBS=ON, then installs that
#           (-O0: this checks packaging, and compiles in half the time of -O2).
set -euo pipefail
src=$1 build=$2 linkage=$3 generator=$4 launcher=${5:-}
work=$build/embed_test/$linkage
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"
launch=()
[[ -n $launcher ]] && launch=(-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher" -DCMAKE_C_COMPILER_LAUNCHER="$launcher")

if [[ $linkage == shared ]]; then
  cmake -S "$src" -B "$work/library" -G "$generator" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0 \
    -DBUILD_SHARED_LIBS=ON -DGRAPHRUN_BUILD_TESTS=OFF "${launch[@]}" > "$work/library.log"
  cmake --build "$work/library" -j2 >> "$work/library.log"
  cmake --install "$work/library" --prefix "$prefix" > /dev/null
  [[ -f $prefix/lib/libgraphrun.so ]] || { echo "no libgraphrun.so in $prefix/lib"; exit 1; }
else
  cmake --install "$build" --prefix "$prefix" > /dev/null
  [[ -f $prefix/lib/libgraphrun.a ]] || { echo "no libgraphrun.a in $prefix/lib"; exit 1; }
fi

# The examples see the prefix, never the source tree.
cmake -S "$src/examples/embed" -B "$work/examples" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "${launch[@]}" > "$work/examples.log"
cmake --build "$work/examples" >> "$work/examples.log"
if grep -q -- "-I$src" "$work/examples/compile_commands.json"; then
  echo "the examples were compiled with an include path into the source tree:"
  grep -- "-I$src" "$work/examples/compile_commands.json" | head -3
  exit 1
fi

# pkg-config: the C program from the .pc file alone (--static adds the private libraries).
pc_static=()
[[ $linkage == static ]] && pc_static=(--static)
PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs "${pc_static[@]}" graphrun > "$work/pc_flags"
# shellcheck disable=SC2046
g++ -x c "$src/examples/embed/label_lines.c" -x none -o "$work/label_lines_pc" $(cat "$work/pc_flags") \
  -Wl,-rpath,"$prefix/lib"

# A fenced block of README.md, the one after the comment naming `$1`.
readme_block() {
  awk -v name="$1" 'index($0, "compiled by tests/embed/embed_test.sh: " name " -->") { found = 1; next }
                    found && /^```/ { if (inside) exit; inside = 1; next }
                    inside { print }' "$src/README.md"
}
readme_block readme_example.cpp > "$work/readme_example.cpp"
readme_block readme_example.c > "$work/readme_example.c"
for f in readme_example.cpp readme_example.c; do
  [[ -s $work/$f ]] || { echo "README.md has no block marked $f"; exit 1; }
done
# shellcheck disable=SC2046
g++ -std=c++20 "$work/readme_example.cpp" -o "$work/readme_example" $(cat "$work/pc_flags") -Wl,-rpath,"$prefix/lib"
# shellcheck disable=SC2046
g++ -x c -std=c11 "$work/readme_example.c" -x none -o "$work/readme_example_c" $(cat "$work/pc_flags") \
  -Wl,-rpath,"$prefix/lib"

model=$src/examples/emojify/v1.pbtxt
run=$work/run
"$work/examples/train_model" "$model" "$run" 2 > "$work/train.txt"
[[ -f $run/last.ckpt ]] || { echo "train_model wrote no checkpoint"; cat "$work/train.txt"; exit 1; }

cat > "$work/lines.txt" << 'LINES'
I love you
lets play baseball tonight
I am so hungry
this is the worst day of my life
you are my best friend
she got a new job
what a funny joke
I miss you so much
food is ready

LINES
"$prefix/bin/graphrun" predict "$model" --checkpoint "$run" < "$work/lines.txt" | awk '{print $1}' > "$work/expected.txt"
[[ $(wc -l < "$work/expected.txt") == 9 ]] || { echo "graphrun predict gave no labels"; exit 1; }
"$work/examples/label_lines" "$model" "$run" < "$work/lines.txt" > "$work/cpp.txt"
"$work/examples/label_lines_c" "$model" "$run" < "$work/lines.txt" > "$work/c.txt"
"$work/label_lines_pc" "$model" "$run" < "$work/lines.txt" > "$work/pc.txt"
"$work/readme_example" "$model" "$run" < "$work/lines.txt" 2> /dev/null | awk '{print $1}' > "$work/readme.txt"
"$work/readme_example_c" "$model" "$run" > "$work/readme_c.txt"
[[ $(wc -l < "$work/readme_c.txt") == 5 ]] || { echo "readme_example_c: not 5 probabilities"; exit 1; }
# The run as one file: graphrun predict, label_lines and label_lines_c take the bundle alone, with the same labels.
"$prefix/bin/graphrun" export "$run" -o "$work/v1.grb" > "$work/export.txt"
"$prefix/bin/graphrun" predict "$work/v1.grb" < "$work/lines.txt" | awk '{print $1}' > "$work/bundle_predict.txt"
"$work/examples/label_lines" "$work/v1.grb" < "$work/lines.txt" > "$work/bundle_cpp.txt"
"$work/examples/label_lines_c" "$work/v1.grb" < "$work/lines.txt" > "$work/bundle_c.txt"
status=0
for got in cpp c pc readme bundle_predict bundle_cpp bundle_c; do
  if ! diff "$work/expected.txt" "$work/$got.txt" > /dev/null; then
    echo "$got labels differ from graphrun predict:"
    diff "$work/expected.txt" "$work/$got.txt" || true
    status=1
  fi
done
[[ $status == 0 ]] && echo "$linkage: $(tr '\n' ' ' < "$work/expected.txt")"
exit $status
