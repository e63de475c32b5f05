// Task names, as Optimum's TasksManager spells them.
#pragma once

#include <string>
#include <vector>

namespace optimum::tasks {

enum class Task {
  FeatureExtraction,   // "feature-extraction": AutoModel
  TextClassification,  // "text-classification": AutoModelForSequenceClassification
  TokenClassification, // "token-classification"
  QuestionAnswering,   // "question-answering"
  FillMask,            // "fill-mask": AutoModelForMaskedLM
  MultipleChoice,      // "multiple-choice"
  TextGeneration,      // "text-generation": AutoModelForCausalLM (decoders; logits of every position)
  ImageClassification, // "image-classification": AutoModelForImageClassification (vision encoders)
  Text2TextGeneration, // "text2text-generation": AutoModelForSeq2SeqLM (encoder-decoders; summarization, translation)
};

// Canonical name of a task.
std::string task_name(Task task);

// Parses a canonical name or one of Optimum's synonyms
// (sequence-classification, default, ...): InvalidArgument for an unknown
// name, Unsupported for a known task the engine has no head for.
Task task_from_name(const std::string& name);

// Every task, in declaration order.
std::vector<Task> all_tasks();

}  // namespace optimum::tasks
