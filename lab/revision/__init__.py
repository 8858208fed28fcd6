"""The interview-revision layer (notebook 20): links to the sections that prove each answer, the
graded quiz's questions, the small experiments its "predict the count" questions measure, and the
comparison table's evidence."""
