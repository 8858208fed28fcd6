"""lab.revision.quiz: grading of every kind of question, the report, hidden answers, sampling."""

from dataclasses import replace

import pytest

from lab.revision.quiz import (
    MultipleChoice,
    PredictCount,
    Quiz,
    QuizError,
    WhatHappens,
    WhichSetting,
)

KILLED_BEFORE_ACK = WhatHappens(
    id="rabbitmq-killed-before-ack",
    prompt="A consumer with manual acks is SIGKILLed after processing a message, before its ack. "
    "What happens to that message?",
    choices=[
        "It is lost: the consumer had received it.",
        "RabbitMQ delivers it again, to another consumer, flagged redelivered.",
        "It goes to the dead-letter exchange at once.",
        "The publisher gets a nack.",
    ],
    answer="b",
    explanation="An unacked message returns to the queue when its channel closes, so it is "
    "processed twice: at-least-once.",
    topic="RabbitMQ",
    link="01-Message-Queue-Fundamentals.ipynb#Acknowledgements",
)
IDEMPOTENT_PRODUCER = WhichSetting(
    id="kafka-idempotent-producer",
    prompt="Which producer setting stops retries from writing a message twice to a partition?",
    accepted=["enable.idempotence=true", "enable.idempotence"],
    explanation="The broker drops a batch whose producer id and sequence number it has seen.",
    topic="Kafka",
    link="04-Kafka-Delivery-Guarantees.ipynb#The-idempotent-producer",
)
IDLE_CONSUMERS = PredictCount(
    id="kafka-idle-consumers",
    prompt="A topic has 3 partitions and its group 4 consumers. How many consumers get nothing?",
    unit="consumers",
    explanation="A partition goes to one consumer of a group: the fourth has none to read.",
    topic="Kafka",
    link="03-Kafka-Fundamentals.ipynb#Consumer-groups",
)
QUESTIONS = [KILLED_BEFORE_ACK, IDEMPOTENT_PRODUCER, IDLE_CONSUMERS]
RIGHT = {
    "rabbitmq-killed-before-ack": "b",
    "kafka-idempotent-producer": "enable.idempotence=true",
    "kafka-idle-consumers": 1,
}
MEASURED = {"kafka-idle-consumers": 1}  # what the notebook's experiment would have counted


@pytest.fixture
def quiz() -> Quiz:
    return Quiz(QUESTIONS)


def test_right_answers_score_full_marks(quiz):
    report = quiz.grade(RIGHT, measured=MEASURED)
    assert (report.score, report.total, report.percent) == (3, 3, 100)
    assert report.misses == [] and report.unanswered == []
    assert "All correct" in report._repr_markdown_()


def test_wrong_answers_come_back_with_the_answer_the_explanation_and_where_to_read(quiz):
    wrong = {
        "rabbitmq-killed-before-ack": "a",
        "kafka-idempotent-producer": "acks=all",
        "kafka-idle-consumers": 0,
    }
    report = quiz.grade(wrong, measured=MEASURED)
    assert report.score == 0 and len(report.misses) == 3
    shown = report._repr_markdown_()
    for question in QUESTIONS:
        assert question.explanation in shown and question.link in shown
    assert "RabbitMQ delivers it again" in shown and "`enable.idempotence=true`" in shown
    assert "1 consumers (exactly)" in str(report)


def test_a_partly_right_quiz_is_scored_per_question_and_per_topic(quiz):
    answers = RIGHT | {"kafka-idle-consumers": 2}
    report = quiz.grade(answers, measured=MEASURED)
    assert report.score == 2 and round(report.percent, 1) == 66.7
    frame = report.to_frame()
    assert frame["correct"].to_dict() == {
        "rabbitmq-killed-before-ack": True,
        "kafka-idempotent-producer": True,
        "kafka-idle-consumers": False,
    }
    assert frame.loc["kafka-idle-consumers", "explanation"] == IDLE_CONSUMERS.explanation
    assert frame.loc["rabbitmq-killed-before-ack", "explanation"] == "", "only misses explained"
    topics = report.by_topic()
    assert list(topics.index) == ["Kafka", "RabbitMQ"], "weakest topic first"
    assert topics.loc["Kafka", "percent"] == 50


@pytest.mark.parametrize(
    "given",
    [
        "b",
        "B",
        " b) ",
        "b.",
        "rabbitmq delivers it again, to another consumer, flagged redelivered.",
    ],
)
def test_a_choice_is_a_letter_or_the_choice_itself(quiz, given):
    report = quiz.grade({"rabbitmq-killed-before-ack": given}, measured=MEASURED)
    assert report.results[0].correct


def test_a_letter_that_is_not_a_choice_is_wrong_and_says_so(quiz):
    result = quiz.grade({"rabbitmq-killed-before-ack": "e"}, measured=MEASURED).results[0]
    assert not result.correct and result.note == "not one of the choices a–d"


@pytest.mark.parametrize(
    "given, correct",
    [
        ("Enable.Idempotence = TRUE", True),
        ("`enable.idempotence`", True),
        ("  enable.idempotence=true ", True),
        ("enable.idempotence=false", False),
        ("idempotence", False),
    ],
)
def test_a_setting_is_matched_ignoring_case_quotes_and_spaces(quiz, given, correct):
    report = quiz.grade({"kafka-idempotent-producer": given}, measured=MEASURED)
    assert report.results[1].correct is correct


@pytest.mark.parametrize(
    "prediction, correct", [(1, True), (1.0, True), ("1", True), (0, False), (2, False)]
)
def test_a_count_without_tolerance_must_be_exact(quiz, prediction, correct):
    report = quiz.grade({"kafka-idle-consumers": prediction}, measured=MEASURED)
    assert report.results[2].correct is correct


def test_a_count_within_the_stated_tolerance_is_right():
    absolute = replace(IDLE_CONSUMERS, tolerance=50)
    relative = replace(IDLE_CONSUMERS, id="relative", tolerance_pct=10)
    quiz = Quiz([absolute, relative])
    measured = {absolute.id: 1000, relative.id: 1000}

    def correct(a, r):
        return [x.correct for x in quiz.grade({absolute.id: a, relative.id: r}, measured).results]

    assert correct(950, 1100) == [True, True], "the bounds are included"
    assert correct("1,049", 901) == [True, True]
    assert correct(949, 1101) == [False, False]
    assert "within ±50" in quiz._repr_markdown_() and "within ±10 %" in quiz._repr_markdown_()


@pytest.mark.parametrize("prediction", ["many", True, float("nan")])
def test_a_prediction_that_is_not_a_number_is_wrong_and_says_so(quiz, prediction):
    result = quiz.grade({"kafka-idle-consumers": prediction}, measured=MEASURED).results[2]
    assert not result.correct and result.note == "not a number"


def test_a_prediction_cannot_be_graded_before_its_experiment_ran(quiz):
    with pytest.raises(QuizError, match=r"run its experiment.*measured=\{'kafka-idle-consumers'"):
        quiz.grade(RIGHT)
    unanswered = quiz.grade({"rabbitmq-killed-before-ack": "b"})  # nothing to measure against
    assert unanswered.results[2].expected == "not measured (exactly)"


def test_missing_empty_and_none_answers_count_as_not_answered(quiz):
    report = quiz.grade({"rabbitmq-killed-before-ack": None, "kafka-idempotent-producer": " "})
    assert report.score == 0
    assert report.unanswered == [q.id for q in QUESTIONS]
    assert all(r.note == "not answered" for r in report.results)
    assert quiz.grade(quiz.blank_answers()).unanswered == quiz.ids


def test_an_unknown_id_is_refused_naming_it_and_the_known_ones(quiz):
    with pytest.raises(QuizError, match="kafka-idle-consumer;.*kafka-idle-consumers"):
        quiz.grade({"kafka-idle-consumer": 1}, measured=MEASURED)  # a typo: one "s" short
    with pytest.raises(QuizError, match="no predict-the-count question with the id"):
        quiz.grade(RIGHT, measured=MEASURED | {"kafka-idempotent-producer": 1})


def test_the_quiz_shows_questions_but_never_the_answers(quiz):
    shown = repr(quiz) + quiz._repr_markdown_() + "".join(repr(q) for q in QUESTIONS)
    assert KILLED_BEFORE_ACK.prompt in shown and "- d) The publisher gets a nack." in shown
    for question in QUESTIONS:
        assert question.explanation not in shown
    assert "enable.idempotence" not in shown and "answer='b'" not in shown


def test_a_sample_is_reproducible_with_a_seed_and_keeps_the_quiz_order(quiz):
    drawn = [quiz.sample(2, seed=seed).ids for seed in range(20)]
    assert drawn[7] == quiz.sample(2, seed=7).ids
    assert len({tuple(ids) for ids in drawn}) > 1, "different seeds draw different questions"
    assert all(ids == [i for i in quiz.ids if i in ids] for ids in drawn)
    assert quiz.sample(3, seed=1).ids == quiz.ids


def test_a_sample_grades_only_its_own_questions(quiz):
    sample = quiz.sample(1, seed=3)
    other = next(i for i in quiz.ids if i not in sample.ids)
    with pytest.raises(QuizError, match=other):
        sample.grade({other: RIGHT[other]}, measured=MEASURED)


@pytest.mark.parametrize("n", [0, 4])
def test_a_sample_must_fit_the_quiz(quiz, n):
    with pytest.raises(QuizError, match=f"cannot draw {n} questions from a quiz of 3"):
        quiz.sample(n)


def test_retry_asks_again_what_was_missed(quiz):
    report = quiz.grade(RIGHT | {"kafka-idempotent-producer": "acks=all"}, measured=MEASURED)
    assert quiz.retry(report).ids == ["kafka-idempotent-producer"]


def test_badly_built_questions_and_quizzes_are_refused():
    with pytest.raises(QuizError, match="at least one question"):
        Quiz([])
    with pytest.raises(QuizError, match="repeated: kafka-idle-consumers"):
        Quiz([IDLE_CONSUMERS, IDLE_CONSUMERS])
    with pytest.raises(QuizError, match="must be one of a, b"):
        MultipleChoice(id="q", prompt="?", choices=["x", "y"], answer="c", explanation="")
    with pytest.raises(QuizError, match="at least one accepted answer"):
        replace(IDEMPOTENT_PRODUCER, accepted=[])
    with pytest.raises(QuizError, match="cannot be negative"):
        replace(IDLE_CONSUMERS, tolerance=-1)
    with pytest.raises(QuizError, match="needs an id"):
        replace(IDLE_CONSUMERS, id=" ")
