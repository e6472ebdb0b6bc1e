/* label_lines through the C API: labels each line of stdin with a trained text
 * classifier, one class name per line.
 *
 *   label_lines_c examples/emojify/v1.pbtxt runs/v1 < sentences.txt
 *   label_lines_c v1.grb < sentences.txt      (a bundle: `graphrun export runs/v1 -o v1.grb`) */
#include <graphrun/c_api.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: label_lines_c MODEL.pbtxt RUN_DIR < lines\n       label_lines_c MODEL.grb < lines\n");
    return 2;
  }
  graphrun_text_classifier* classifier = NULL;
  const graphrun_status loaded = argc == 2 ? graphrun_text_classifier_load_bundle(argv[1], NULL, &classifier)
                                           : graphrun_text_classifier_load(argv[1], argv[2], NULL, &classifier);
  if (loaded != GRAPHRUN_OK) {
    fprintf(stderr, "label_lines_c: %s\n", graphrun_last_error());
    return 1;
  }
  char line[4096];
  int status = 0;
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = '\0';
    if (line[0] == '\0') continue;
    graphrun_text_label label;
    if (graphrun_text_classifier_classify(classifier, line, &label) != GRAPHRUN_OK) {
      fprintf(stderr, "label_lines_c: %s\n", graphrun_last_error());
      status = 1;
      break;
    }
    printf("%s\n", label.class_name);
  }
  graphrun_text_classifier_free(classifier);
  return status;
}
