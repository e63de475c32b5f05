#include "optimum/tasks/task.h"

#include <map>

#include "optimum/core/errors.h"

namespace optimum::tasks {

std::vector<Task> all_tasks() {
  return {Task::FeatureExtraction, Task::TextClassification, Task::TokenClassification,
          Task::QuestionAnswering, Task::FillMask,           Task::MultipleChoice};
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
  }
  throw InvalidArgument("invalid task value");
}

Task task_from_name(const std::string& name) {
  static const std::map<std::string, Task> kSynonyms = {
      {"default", Task::FeatureExtraction},
      {"sentence-similarity", Task::FeatureExtraction},
      {"sequence-classification", Task::TextClassification},
      {"masked-lm", Task::FillMask},
  };
  for (Task t : all_tasks()) {
    if (task_name(t) == name) return t;
  }
  if (auto it = kSynonyms.find(name); it != kSynonyms.end()) return it->second;
  std::string list;
  for (Task t : all_tasks()) list += (list.empty() ? "" : ", ") + task_name(t);
  throw InvalidArgument("unknown task '" + name + "' (known: " + list + ")");
}

}  // namespace optimum::tasks
