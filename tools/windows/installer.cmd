@echo off
rem Installe forfait-agent pour l'utilisateur courant, sans droits administrateur et sans Internet :
rem un environnement Python à lui dans %LOCALAPPDATA%\Programs\forfait-agent, les paquets de ce dossier,
rem puis la tâche planifiée qui lance l'agent à l'ouverture de session. Relancer ce fichier met à jour.
rem Fichier enregistré dans la page de codes OEM 850, celle de cmd.exe sur un Windows français. Les
rem lettres accentuées ne servent qu'aux messages (rem, echo, title) : sous une autre page de codes
rem (65001, 437), seul leur affichage change, jamais une commande. Chaque chemin est entre guillemets
rem (un nom d'utilisateur peut contenir espaces, accents, esperluette ou apostrophe : C:\Users\Dr Hélène).
setlocal EnableExtensions
cd /d "%~dp0"
title Installation de forfait-agent
set "DEST=%LOCALAPPDATA%\Programs\forfait-agent"
set "PAQUETS=%~dp0paquets"
set "VPY=%DEST%\venv\Scripts\python.exe"
set "FA=%DEST%\venv\Scripts\forfait-agent.exe"

echo.
echo  Installation de forfait-agent
echo  =============================
echo.

rem Ouvert depuis le .zip sans l'extraire, Windows ne copie que ce fichier : les paquets manquent.
if not exist "%PAQUETS%\forfait_agent-*.whl" goto pas_extrait

rem Le lanceur « py » vient avec le Python de python.org. Le Python du Microsoft Store est écarté : il
rem range à part ce qu'il écrit dans AppData, où ni ce fichier ni le navigateur ne le verraient.
rem (Entrée lue depuis nul : un lanceur qui proposerait d'installer une version absente n'attend pas.)
set "PY="
for %%V in (@PYTHONS@) do if not defined PY py -%%V -c "import sys; sys.exit('WindowsApps' in sys.executable)" <nul >nul 2>&1 && set "PY=py -%%V"
if not defined PY goto sans_python
echo Python trouvé : %PY%

rem Mise à jour : l'agent en cours est arrêté, pour que ses fichiers puissent être remplacés.
schtasks /End /TN forfait-agent >nul 2>&1

rem Un environnement déjà là est gardé s'il fonctionne encore (son Python a pu être désinstallé).
"%VPY%" -c "import sys" <nul >nul 2>&1 && goto paquets
echo Création de l'environnement dans "%DEST%" ...
%PY% -m venv --clear "%DEST%\venv"
if errorlevel 1 goto erreur

:paquets
echo Installation des paquets (sans Internet) ...
"%VPY%" -m pip install --quiet --disable-pip-version-check --no-index --find-links "%PAQUETS%" --upgrade @PACKAGES@
if errorlevel 1 goto erreur
rem Une archive refaite garde parfois le même numéro de version : le programme est remplacé quand même.
"%VPY%" -m pip install --quiet --disable-pip-version-check --no-index --find-links "%PAQUETS%" --force-reinstall --no-deps @PACKAGES@
if errorlevel 1 goto erreur

rem Une configuration déjà présente est gardée telle quelle (réinstallation, mise à jour).
if exist "%LOCALAPPDATA%\forfait-agent\config.toml" goto tache
echo.
echo Configuration : indiquez le ou les dossiers où le logiciel médical écrit ses journaux
echo ou exports, puis le RPPS du médecin (laisser vide si plusieurs médecins).
"%FA%" init
if errorlevel 1 goto sans_config

:tache
echo.
echo Enregistrement de la tâche planifiée (démarrage à l'ouverture de session) ...
"%FA%" service install
if errorlevel 1 goto erreur

echo Raccourci « Rapport forfait-agent » sur le Bureau ...
rem Le chemin passe par l'environnement ($env:DEST), jamais dans le texte de la commande PowerShell.
powershell -NoProfile -ExecutionPolicy Bypass -Command "$l=(New-Object -ComObject WScript.Shell).CreateShortcut([Environment]::GetFolderPath('Desktop')+'\Rapport forfait-agent.lnk'); $l.TargetPath=$env:DEST+'\venv\Scripts\pythonw.exe'; $l.WorkingDirectory=$env:DEST; $l.Arguments='-m forfait_agent open'; $l.Description='Ouvrir le rapport forfait-agent'; $l.Save()" <nul >nul 2>&1
if errorlevel 1 echo Raccourci non créé : le rapport s'ouvre aussi avec "%FA%" open

echo.
echo Terminé. L'agent tourne et redémarrera à chaque ouverture de session.
echo  - Rapport : double-cliquez « Rapport forfait-agent » sur le Bureau.
echo  - État    : "%FA%" status
echo  - Score   : "%FA%" score
echo.
pause
exit /b 0

:pas_extrait
echo Le dossier « paquets » manque à côté de installer.cmd : l'archive n'a pas été extraite.
echo 1. Fermez cette fenêtre.
echo 2. Clic droit sur le fichier forfait-agent-windows-x64-....zip, « Extraire tout... », « Extraire ».
echo 3. Dans le dossier extrait, double-cliquez installer.cmd.
echo.
pause
exit /b 1

:sans_python
echo Aucun Python compatible (@PYTHONS@) n'est installé sur cet ordinateur.
echo 1. Ouvrez https://www.python.org/downloads/windows/ et téléchargez le « Windows installer (64-bit) ».
echo 2. Lancez-le. Sans droits administrateur, décochez « Use admin privileges when installing py.exe ».
echo    Cliquez « Install Now ».
echo 3. Relancez installer.cmd.
echo Le Python du Microsoft Store ne convient pas : voir LISEZMOI.txt.
echo.
pause
exit /b 1

:sans_config
echo.
echo La configuration n'est pas terminée : rien n'est démarré. Relancez installer.cmd pour la refaire.
echo.
pause
exit /b 1

:erreur
echo.
echo L'installation a échoué (code %errorlevel%). Relancer installer.cmd est sans risque.
echo Faites une copie d'écran de cette fenêtre pour la personne qui vous aide.
echo.
pause
exit /b 1
