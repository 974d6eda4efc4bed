"""Import a SageMaker training output (an MXNet classifier or SSD) as a project: the model converted once to IR,
and a device-style Lambda generated for it.

    from simulator.project_import import import_project

    project = import_project(Path("model.tar.gz"), name="birds", labels=Path("birds.txt"))
"""

from __future__ import annotations

from simulator.project_import.importer import ImportedProject, import_project, read_labels, user_projects_dir
from simulator.project_import.lambda_template import render_lambda
from simulator.project_import.training_output import TrainingOutput, read_training_output

__all__ = ["ImportedProject", "TrainingOutput", "import_project", "read_labels", "read_training_output",
           "render_lambda", "user_projects_dir"]
