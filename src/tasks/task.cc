#include "optimum/tasks/task.h"

#include "optimum/core/errors.h"
#include "optimum/tasks/registry.h"

namespace optimum::tasks {

std::vector<Task> all_tasks() {
  return {Task::FeatureExtraction, Task::TextClassification, Task::TokenClassification,
          Task::QuestionAnswering, Task::FillMask,           Task::MultipleChoice,
          Task::TextGeneration,    Task::ImageClassification, Task::Text2TextGeneration};
}

std::string task_name(Task task) {
  switch (task) {
    case Task::FeatureExtraction:
      return "feature-extraction";
    case Task::TextClassification:
      return "text-classification";
    case Task::TokenClassification:
      return "token-classification";
    case Task::QuestionAnswering:
      return "question-answering";
    case Task::FillMask:
      return "fill-mask";
    case Task::MultipleChoice:
      return "multiple-choice";
    case Task::TextGeneration:
      return "text-generation";
    case Task::ImageClassification:
      return "image-classification";
    case Task::Text2TextGeneration:
      return "text2text-generation";
  }
  throw InvalidArgument("invalid task value");
}

Task task_from_name(const std::string& name) {
  const std::string canonical = canonical_task(name);  // resolves Optimum's synonyms
  for (Task t : all_tasks()) {
    if (task_name(t) == canonical) return t;
  }
  std::string list;
  for (Task t : all_tasks()) list += (list.empty() ? "" : ", ") + task_name(t);
  throw Unsupported("task '" + name + "' is not supported by the native engine (supported: " + list + ")");
}

}  // namespace optimum::tasks
