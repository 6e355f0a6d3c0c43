@echo off
rem Installe forfait-agent pour l'utilisateur courant, sans droits administrateur et sans Internet :
rem un environnement Python à lui dans %LOCALAPPDATA%\Programs\forfait-agent, les paquets de ce dossier,
rem puis la tâche planifiée qui lance l'agent à l'ouverture de session.
rem (Fichier enregistré dans la page de codes OEM 850, celle de cmd.exe sur un Windows français.)
setlocal EnableExtensions
cd /d "%~dp0"
title Installation de forfait-agent
set "DEST=%LOCALAPPDATA%\Programs\forfait-agent"
set "PAQUETS=%~dp0paquets"

echo.
echo  Installation de forfait-agent
echo  =============================
echo.

rem Le lanceur « py » vient avec le Python de python.org ; celui du Microsoft Store ne l'a pas.
set "PY="
for %%V in (@PYTHONS@) do if not defined PY py -%%V -c "import sys" >nul 2>&1 && set "PY=py -%%V"
if not defined PY goto sans_python
echo Python trouvé : %PY%

echo Création de l'environnement dans %DEST% ...
if exist "%DEST%\venv\Scripts\python.exe" goto paquets
%PY% -m venv "%DEST%\venv"
if errorlevel 1 goto erreur

:paquets
echo Installation des paquets (sans Internet) ...
"%DEST%\venv\Scripts\python.exe" -m pip install --quiet --disable-pip-version-check --no-index --find-links "%PAQUETS%" --upgrade @PACKAGES@
if errorlevel 1 goto erreur
set "FA=%DEST%\venv\Scripts\forfait-agent.exe"

rem Une configuration déjà présente est gardée telle quelle (réinstallation, mise à jour).
if exist "%LOCALAPPDATA%\forfait-agent\config.toml" goto tache
echo.
echo Configuration : indiquez le ou les dossiers où le logiciel médical écrit ses journaux
echo ou exports, puis le RPPS du médecin (laisser vide si plusieurs médecins).
"%FA%" init

:tache
echo.
echo Enregistrement de la tâche planifiée (démarrage à l'ouverture de session) ...
"%FA%" service install
if errorlevel 1 goto erreur

echo Raccourci « Rapport forfait-agent » sur le Bureau ...
powershell -NoProfile -ExecutionPolicy Bypass -Command "$l=(New-Object -ComObject WScript.Shell).CreateShortcut([Environment]::GetFolderPath('Desktop')+'\Rapport forfait-agent.lnk'); $l.TargetPath='%DEST%\venv\Scripts\pythonw.exe'; $l.Arguments='-m forfait_agent open'; $l.Description='Ouvrir le rapport forfait-agent'; $l.Save()" >nul 2>&1

echo.
echo Terminé. L'agent tourne et redémarrera à chaque ouverture de session.
echo  - Rapport : double-cliquez « Rapport forfait-agent » sur le Bureau.
echo  - État    : "%FA%" status
echo  - Score   : "%FA%" score
echo.
pause
exit /b 0

:sans_python
echo Aucun Python compatible (@PYTHONS@) n'est installé sur cet ordinateur.
echo 1. Ouvrez https://www.python.org/downloads/windows/ et téléchargez le « Windows installer (64-bit) ».
echo 2. Lancez-le, cochez « Add python.exe to PATH », gardez « py launcher » coché, puis « Install Now ».
echo 3. Relancez installer.cmd.
echo (Le Python du Microsoft Store ne convient pas : voir LISEZMOI.txt.)
echo.
pause
exit /b 1

:erreur
echo.
echo L'installation a échoué (code %errorlevel%). Rien n'a été modifié hors de %DEST%.
echo Faites une copie d'écran de cette fenêtre pour la personne qui vous aide.
echo.
pause
exit /b 1
