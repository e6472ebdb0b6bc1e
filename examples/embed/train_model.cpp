// Trains a model for a few epochs through the API, printing each epoch's metrics,
// and saves a checkpoint: RUN_DIR then works with label_lines and `graphrun predict`.
//
//   train_model examples/emojify/v1.pbtxt runs/v1 2
#include <graphrun/train.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: train_model MODEL.pbtxt RUN_DIR EPOCHS\n";
    return 2;
  }
  try {
    graphrun::TrainOptions options;
    options.run_dir = argv[2];
    graphrun::Trainer trainer(argv[1], options);
    const int epochs = std::stoi(argv[3]);
    for (int e = 0; e < epochs; ++e) {
      const graphrun::EpochRecord record = trainer.train_epoch();
      std::cout << "epoch " << record.epoch;
      for (const auto& [name, value] : record.metrics) std::cout << "  " << name << " " << value;
      std::cout << "\n";
    }
    trainer.save_checkpoint();
    std::cout << "checkpoint: " << trainer.run_dir() << "/last.ckpt\n";
  } catch (const graphrun::Error& e) {
    std::cerr << "train_model: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {  // std::stoi on a bad EPOCHS
    std::cerr << "train_model: EPOCHS must be a number (" << e.what() << ")\n";
    return 2;
  }
  return 0;
}
