"""The task heads the encoder tests cover: task -> (transformers class, optimum_cpp class)."""

import transformers as T

import optimum_cpp as oc

HEADS = {
    "feature-extraction": (T.AutoModel, oc.AutoModel),
    "text-classification": (T.AutoModelForSequenceClassification, oc.AutoModelForSequenceClassification),
    "token-classification": (T.AutoModelForTokenClassification, oc.AutoModelForTokenClassification),
    "question-answering": (T.AutoModelForQuestionAnswering, oc.AutoModelForQuestionAnswering),
    "fill-mask": (T.AutoModelForMaskedLM, oc.AutoModelForMaskedLM),
    "multiple-choice": (T.AutoModelForMultipleChoice, oc.AutoModelForMultipleChoice),
}
