// Labels each line of stdin with a trained text classifier (a model and the run
// directory `graphrun train` or train_model wrote, or the one-file bundle
// `graphrun export` made of them), one class name per line:
//
//   label_lines examples/emojify/v1.pbtxt runs/v1 < sentences.txt
//   label_lines v1.grb < sentences.txt
#include <graphrun/train.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::cerr << "usage: label_lines MODEL.pbtxt RUN_DIR < lines\n       label_lines MODEL.grb < lines\n";
    return 2;
  }
  try {
    const graphrun::TextClassifier classifier =
        argc == 2 ? graphrun::TextClassifier::from_bundle(argv[1]) : graphrun::TextClassifier(argv[1], argv[2]);
    for (std::string line; std::getline(std::cin, line);) {
      if (line.empty()) continue;
      const graphrun::Prediction p = classifier.classify(line);
      std::cout << p.classes[static_cast<size_t>(p.label)] << "\n";
    }
  } catch (const graphrun::Error& e) {
    std::cerr << "label_lines: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
